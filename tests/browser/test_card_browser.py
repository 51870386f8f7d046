"""The card in a real browser: a call started from the dashboard walks menu → hold → person.

Everything is real and local: Home Assistant 2025.4.4 as a subprocess on 127.0.0.1 with the
frontend it pins (``home-assistant-frontend``), a fresh config directory onboarded through its
API, HA's ``wyoming`` integration pointed at the real Whisper and Piper servers, the Hold Slayer
demo line voiced and heard through them, and a "Hold Slayer" dashboard holding the card, made
through the websocket API (``dev_ha``, shared with ``script/develop``). ``card_call.js`` then
opens the dashboard in Debian's ``chromium`` driven by ``playwright-core``, starts a call to Demo
Robotics from the card's Call form, and follows the card's shadow DOM through the phone menu,
the hold and the person, then hangs up from the card. Screenshots of every step land in
``artifacts/browser/`` (``script/screenshots`` copies them into the README's images).

A missing ``chromium``, ``node`` or ``playwright-core`` fails the test, never skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest

from dev_ha.process import ROOT, log_tail, running_hass
from dev_ha.provision import provision
from harness.servers.kamailio import free_port

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.timeout(480)]

ARTIFACTS: Final = ROOT / "artifacts" / "browser"
CHROMIUM: Final = Path("/usr/bin/chromium")
DRIVER: Final = Path(__file__).with_name("card_call.js")
PLAYWRIGHT: Final = ROOT / "node_modules" / "playwright-core" / "package.json"
USER: Final = "browser"
PASSWORD: Final = "browser-test-password"
# Demo Robotics: "for support, press 2", 40 s of synth music with a callback offer, then Miles.
COMPANY: Final = "Demo Robotics"
GOAL: Final = "support"
# Seconds the driver allows each step (a busy two-core machine; the whole run takes about 1 min).
TIMEOUTS: Final = {"page": 90, "answer": 60, "menu": 60, "hold_shot": 6, "person": 120, "hangup": 30}
DRIVER_TIMEOUT: Final = 400
STEPS: Final = [
    ("ready", "idle"),
    ("ivr", "ivr"),
    ("on-hold", "on_hold"),
    ("person", "human"),
    ("ended", "ended"),
]
PNG: Final = b"\x89PNG\r\n\x1a\n"


def _require_browser() -> str:
    """Node, playwright-core and Debian's chromium, or a failure saying how to get them."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: script/setup installs Debian's chromium (apt-get install chromium)"
        )
    if not PLAYWRIGHT.exists():
        pytest.fail("node_modules/playwright-core is missing: run script/setup (npm ci)")
    if (node := shutil.which("node")) is None:
        pytest.fail("node is missing: Node.js >= 20 is needed for the browser test")
    return node


def _in_order(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(state in remaining for state in wanted)


def _run_driver(node: str, plan: dict[str, Any], plan_file: Path) -> tuple[int, str]:
    """Run card_call.js; its exit status and stderr. Its process group (Chromium too) never outlives it."""
    plan_file.write_text(json.dumps(plan))
    driver = subprocess.Popen(
        [node, str(DRIVER), str(plan_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own process group: the browser goes with it
    )
    try:
        _, stderr = driver.communicate(timeout=DRIVER_TIMEOUT)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGTERM)  # playwright closes the browser on SIGTERM
            try:
                driver.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)  # anything of the browser's still in the group
    return driver.returncode, stderr


def test_call_from_the_card(
    tmp_path: Path, wyoming_stt: tuple[str, int], wyoming_tts: tuple[str, int]
) -> None:
    """Call from the card → the card shows menu, hold, the person banner → hang up from the card."""
    node = _require_browser()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    log = ARTIFACTS / "hass.log"
    with running_hass(tmp_path / "config", free_port(), log) as url:
        setup = asyncio.run(provision(url, USER, PASSWORD, {"stt": wyoming_stt, "tts": wyoming_tts}))
        assert setup.onboarded
        assert (setup.stt_entity.split(".")[0], setup.tts_entity.split(".")[0]) == ("stt", "tts")
        plan = {
            "dashboard": setup.dashboard_url,
            "tokens": setup.tokens.browser_storage(),
            "artifacts": str(ARTIFACTS),
            "chromium": str(CHROMIUM),
            "company": COMPANY,
            "goal": GOAL,
            "timeouts": TIMEOUTS,
        }
        status, stderr = _run_driver(node, plan, tmp_path / "plan.json")
    result: dict[str, Any] = json.loads((ARTIFACTS / "result.json").read_text())
    assert status == 0, (
        f"{result.get('error')}\nstates: {result.get('states')}\n{stderr[-3000:]}\n"
        f"HA log (artifacts/browser/hass.log):\n{log_tail(log)}"
    )
    assert result["ok"]

    states = [item["state"] for item in result["states"]]
    assert _in_order(["idle", "dialing", "ivr", "on_hold", "human", "ended"], states), states
    assert "failed" not in states
    # A screenshot at each step, taken while the card showed that step.
    assert [(step["name"], step["state"]) for step in result["steps"]] == STEPS
    for step in result["steps"]:
        for shot in (step["page"], step["card"]):
            assert Path(shot).read_bytes().startswith(PNG), shot
    assert COMPANY in result["details"]
    assert GOAL in result["details"]
    assert result["banner"] == "A person is on the line!"
    assert result["ended_reason"] == "Why it ended: hung up"  # the call sensor's end_reason
    # The timeline strip marks the menu choice, the hold and the person; the choice was the rule's.
    assert {"mark mark-choice", "mark mark-hold", "mark mark-person"} <= set(result["marks"])
    assert any("pressed 2" in choice for choice in result["choices"]), result["choices"]
    assert not [error for error in result["page_errors"] if "hold-slayer-card" in error]
    # HA saw nothing of ours block its event loop (the classifier's model is read on import), and
    # setting it up never failed a login (the readiness check needs none).
    hass_log = log.read_text(errors="replace")
    assert not [
        line for line in hass_log.splitlines() if "Detected blocking call" in line and "hold_slayer" in line
    ]
    assert "Login attempt failed" not in hass_log
