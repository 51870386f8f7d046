"""The demo company line: a few bundled companies answered in-process, no SIP account needed.

A new user picks "Demo company line" in the config flow and can place a complete call at once:
the :class:`CompanySimulator` answers on 127.0.0.1 and Hold Slayer's phone talks to it
directly (no registrar). Inside a user's Home Assistant there are no Asterisk prompt or
music-on-hold files, so every voice is spoken by the user's TTS engine and the music is
synthesised: :func:`for_any_host` rewrites the bundled scenarios accordingly, so the demo
sounds the same everywhere instead of depending on what a host happens to have installed.
Each company also speaks under its demo name: a newcomer who calls "Demo Bank" hears "Thank you
for calling Demo Bank", not the scenario's own "Acme Bank".
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from custom_components.hold_slayer.telephony import PortRange, SipAccount
from custom_components.hold_slayer.voice.protocols import SpeechError, TextToSpeech

from .scenario import SCENARIO_DIR, HoldNode, Music, Node, Scenario, Voice, load_scenario
from .simulator import CompanySimulator

_LOGGER = logging.getLogger(__name__)

DEMO_HOST: Final = "127.0.0.1"
DEMO_USERNAME: Final = "hold-slayer-demo"
# Hold Slayer's side of the demo: its own RTP ports, clear of a SIP entry's default 10000-10999.
DEMO_RTP_PORTS: Final = PortRange(30000, 30999)
SIMULATOR_RTP_PORTS: Final = PortRange(31000, 31999)


@dataclass(frozen=True, slots=True)
class DemoCompany:
    """A bundled scenario under the name the demo's phone book gives it."""

    scenario_id: str
    name: str
    aliases: tuple[str, ...] = ()
    goal: str = ""  # what to ask for (shown in the README and the flow's description)
    secrets: tuple[tuple[str, str], ...] = ()  # what its menu asks for (demo values)
    spoken: tuple[str, ...] = ()  # how the scenario's voices say its name (longest first): said as ``name``


# DTMF menus only: the demo must work with whatever STT the user has, even a poor one.
DEMO_COMPANIES: Final = (
    DemoCompany(
        "acme-bank-billing",
        "Demo Bank",
        ("Acme Bank",),
        goal="a question about my bill",
        secrets=(("account_number", "1234567890"),),
        spoken=("Acme Bank",),
    ),
    DemoCompany(
        "globex-insurance-claims",
        "Demo Insurance",
        ("Globex Insurance",),
        goal="check on my existing auto claim",
        secrets=(("policy_number", "40071234"),),
        spoken=("Globex Insurance",),
    ),
    DemoCompany(
        "dunder-direct-person",
        "Demo Paper Company",
        ("Dunder Mifflin",),
        goal="order paper",
        spoken=("Dunder Mifflin",),
    ),
    DemoCompany(
        "cyberdyne-callback-offer",
        "Demo Robotics",
        ("Cyberdyne",),
        goal="support",
        spoken=("Cyberdyne Systems", "Cyberdyne"),
    ),
)


def for_any_host(scenario: Scenario) -> Scenario:
    """``scenario`` with recorded voices spoken by TTS and music on hold synthesised (piano)."""
    voices = {
        name: Voice(recorded=False, tts_id=name) if voice.recorded else voice
        for name, voice in scenario.voices.items()
    }
    nodes = {
        node_id: (
            dataclasses.replace(node, hold=dataclasses.replace(node.hold, music=Music.PIANO))
            if isinstance(node, HoldNode) and node.hold.music is Music.MOH
            else node
        )
        for node_id, node in scenario.nodes.items()
    }
    return dataclasses.replace(scenario, voices=voices, nodes=nodes)


def demo_scenarios(companies: Iterable[DemoCompany] = DEMO_COMPANIES) -> list[Scenario]:
    """The bundled scenarios of ``companies``, ready for any host."""
    return [
        spoken_as(for_any_host(load_scenario(SCENARIO_DIR / f"{c.scenario_id}.yaml")), c) for c in companies
    ]


def spoken_as(scenario: Scenario, company: DemoCompany) -> Scenario:
    """``scenario`` with every voice saying the company's demo name instead of the scenario's."""

    def say(text: str) -> str:
        for spoken in company.spoken:
            text = text.replace(spoken, company.name)
        return text

    def renamed(node: Node) -> Node:
        if not isinstance(node, HoldNode):
            return dataclasses.replace(node, say=say(node.say))
        if node.hold.announce is None:
            return node
        announce = dataclasses.replace(node.hold.announce, say=say(node.hold.announce.say))
        return dataclasses.replace(node, hold=dataclasses.replace(node.hold, announce=announce))

    return dataclasses.replace(scenario, nodes={key: renamed(node) for key, node in scenario.nodes.items()})


def demo_phone_book(
    scenarios: Sequence[Scenario], companies: Iterable[DemoCompany] = DEMO_COMPANIES
) -> list[dict[str, Any]]:
    """Phone-book entries (as the options store them) for the companies of ``scenarios``."""
    numbers = {scenario.id: scenario.line.number for scenario in scenarios}
    return [
        {"name": company.name, "aliases": list(company.aliases), "number": numbers[company.scenario_id]}
        for company in companies
        if company.scenario_id in numbers
    ]


def free_udp_port(host: str = DEMO_HOST) -> int:
    """A UDP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class DemoLine:
    """The simulated companies on a free port of 127.0.0.1, and the account that reaches them."""

    def __init__(self, scenarios: Sequence[Scenario], *, tts: TextToSpeech) -> None:
        # No STT: the demo's menus are DTMF, and the user's STT is busy enough with our side.
        # No voice map: a user's engine has its own voice names; its default voice speaks.
        self.simulator = CompanySimulator(
            scenarios, tts=tts, host=DEMO_HOST, voice_map={}, rtp_ports=SIMULATOR_RTP_PORTS
        )

    @property
    def scenarios(self) -> list[Scenario]:
        """The companies this line answers for."""
        return self.simulator.scenarios

    async def start(self) -> SipAccount:
        """Start answering; the direct (unregistered) account Hold Slayer's phone calls from."""
        await self.simulator.start()
        host, port = self.simulator.address
        local = free_udp_port(host)
        return SipAccount(
            host,
            DEMO_USERNAME,
            "",
            port=port,
            sip_ports=PortRange(local, local),
            rtp_ports=DEMO_RTP_PORTS,
        )

    async def prerender(self) -> bool:
        """Render every prompt now, so the first call does not wait; False if TTS failed."""
        try:
            await self.simulator.prerender()
        except SpeechError as err:
            # The calls render on demand; a TTS engine that comes up later still serves them.
            _LOGGER.warning("The demo line could not render its prompts yet: %s", err)
            return False
        return True

    async def stop(self) -> None:
        """Hang up every demo call and close the line."""
        await self.simulator.stop()
