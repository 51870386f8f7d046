"""Company scenarios (``/work/shared/scenarios/FORMAT.md``, version 1): strict loading and validation.

Typos must not pass silently, so every unknown key, wrong type or dangling reference is a
:class:`ScenarioError` naming the file and the key path, e.g.
``acme.yaml: nodes.main.input.dtmf.3: unknown node 'helpdesk'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

import yaml

SCENARIO_DIR: Final = Path(__file__).with_name("scenarios")
_SCENARIO_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_NODE_ID = re.compile(r"[a-z][a-z0-9_-]*")
_NUMBER = re.compile(r"\+?[0-9]{2,20}")
_SECRET_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DTMF = frozenset("0123456789*#ABCD")


class ScenarioError(ValueError):
    """A scenario that does not load or validate; the message names the file and key path."""


class Answer(StrEnum):
    """How the line reacts to the INVITE."""

    OK = "ok"
    BUSY = "busy"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    NO_ANSWER = "no_answer"


class Outcome(StrEnum):
    """How a scored run must end."""

    HUMAN = "human"
    BUSY = "busy"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    NO_ANSWER = "no_answer"
    HUNG_UP = "hung_up"


class Music(StrEnum):
    """What plays on hold."""

    MOH = "moh"
    PIANO = "piano"
    SYNTH = "synth"
    SILENCE = "silence"
    COMFORT_NOISE = "comfort_noise"


@dataclass(frozen=True, slots=True)
class Line:
    """The company's number and how it answers."""

    number: str
    rings: int = 0
    answer: Answer = Answer.OK


@dataclass(frozen=True, slots=True)
class Voice:
    """A named voice: real recorded prompts, or a TTS voice id (mapped to an engine voice)."""

    recorded: bool
    tts_id: str | None = None


@dataclass(frozen=True, slots=True)
class MenuInput:
    """What a menu listens for."""

    dtmf: Mapping[str, str]
    speech: Mapping[str, str]
    timeout: float
    retries: int
    invalid: str | None
    on_fail: str | None


@dataclass(frozen=True, slots=True)
class Collection:
    """A digit prompt's rules; ``equals`` is the name of a secret."""

    next: str
    digits: int | None = None
    terminator: str | None = None
    timeout: float = 10.0
    equals: str | None = None
    invalid: str | None = None


@dataclass(frozen=True, slots=True)
class Announcement:
    """A recorded line repeated during hold."""

    say: str
    every: float
    over_music: bool = False


@dataclass(frozen=True, slots=True)
class HoldSpec:
    """Music, for how long, and what interrupts it."""

    seconds: float
    music: Music = Music.MOH
    announce: Announcement | None = None
    position: bool = False
    offer_callback: str | None = None


@dataclass(frozen=True, slots=True)
class SayNode:
    """An announcement, then the next node."""

    id: str
    say: str
    next: str


@dataclass(frozen=True, slots=True)
class MenuNode:
    """A prompt that waits for DTMF or speech."""

    id: str
    say: str
    input: MenuInput


@dataclass(frozen=True, slots=True)
class CollectNode:
    """A prompt that collects digits."""

    id: str
    say: str
    collect: Collection


@dataclass(frozen=True, slots=True)
class HoldNode:
    """Hold (music, announcements), then the next node."""

    id: str
    hold: HoldSpec
    next: str


@dataclass(frozen=True, slots=True)
class HumanNode:
    """A live person answers."""

    id: str
    voice: str
    say: str
    patience: float = 20.0


@dataclass(frozen=True, slots=True)
class EndNode:
    """A last sentence, then the line hangs up."""

    id: str
    say: str


type Node = SayNode | MenuNode | CollectNode | HoldNode | HumanNode | EndNode


@dataclass(frozen=True, slots=True)
class Expectation:
    """How ``script/simulate`` scores a run against this scenario."""

    intent: str
    secrets: Mapping[str, str] = field(default_factory=dict)
    outcome: Outcome = Outcome.HUMAN
    reaches: str | None = None
    path: tuple[str, ...] | None = None
    max_seconds: float = 150.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated company line."""

    id: str
    description: str
    language: str
    line: Line
    voices: Mapping[str, Voice]
    start: str
    nodes: Mapping[str, Node]
    expect: Expectation
    source: str = "<scenario>"

    @property
    def dial_number(self) -> str:
        """The number without ``+`` (how the simulator matches a Request-URI)."""
        return self.line.number.removeprefix("+")


# -- reading ------------------------------------------------------------------------------------


class _At:
    """A value and where it sits in the file, for error messages."""

    def __init__(self, source: str, path: str, value: object) -> None:
        self.source = source
        self.path = path
        self.value = value

    def error(self, message: str) -> ScenarioError:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return ScenarioError(f"{where}: {message}")

    def child(self, key: object) -> _At:
        assert isinstance(self.value, Mapping)
        path = f"{self.path}.{key}" if self.path else str(key)
        return _At(self.source, path, self.value[key])

    def mapping(
        self, allowed: frozenset[str] | None = None, required: tuple[str, ...] = ()
    ) -> dict[str, _At]:
        if not isinstance(self.value, Mapping):
            raise self.error(f"must be a mapping, not {_kind(self.value)}")
        for key in self.value:
            if not isinstance(key, str):
                raise self.error(f"key {key!r} must be a string")
            if allowed is not None and key not in allowed:
                raise self.child(key).error("unknown key")
        for key in required:
            if key not in self.value:
                raise self.error(f"missing key '{key}'")
        return {key: self.child(key) for key in self.value}

    def item(self, index: int) -> _At:
        assert isinstance(self.value, list)
        return _At(self.source, f"{self.path}.{index}", self.value[index])

    def text(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.error(f"must be a non-empty string, not {_kind(self.value)}")
        return self.value

    def integer(self, minimum: int = 0) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"must be an integer, not {_kind(self.value)}")
        if self.value < minimum:
            raise self.error(f"must be at least {minimum}")
        return self.value

    def seconds(self) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise self.error(f"must be a number of seconds, not {_kind(self.value)}")
        if not 0 < self.value <= 3600:
            raise self.error("must be more than 0 and at most 3600 seconds")
        return float(self.value)

    def flag(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"must be true or false, not {_kind(self.value)}")
        return self.value

    def choice[E: StrEnum](self, kind: type[E]) -> E:
        text = self.text()
        try:
            return kind(text)
        except ValueError:
            options = " | ".join(member.value for member in kind)
            raise self.error(f"must be one of {options}, not {text!r}") from None

    def digit(self) -> str:
        value = self.value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
            return str(value)
        if not isinstance(value, str) or len(value) != 1 or value.upper() not in _DTMF:
            raise self.error(f"must be one DTMF key (0-9 * # A-D), not {value!r}")
        return value.upper()


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


_TOP: Final = frozenset(
    {"version", "id", "description", "language", "line", "voices", "start", "nodes", "expect"}
)
_NODE_KEYS: Final = frozenset({"say", "next", "input", "collect", "hold", "human", "hangup"})
_KINDS: Final = (
    frozenset({"say", "next"}),
    frozenset({"say", "input"}),
    frozenset({"say", "collect"}),
    frozenset({"hold", "next"}),
    frozenset({"human"}),
    frozenset({"say", "hangup"}),
)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.references: list[tuple[_At, str]] = []  # (where, node id) checked once all nodes are read

    def ref(self, at: _At) -> str:
        node = at.text()
        self.references.append((at, node))
        return node

    def scenario(self, data: object) -> Scenario:
        root = _At(self.source, "", data)
        top = root.mapping(_TOP, required=("version", "id", "line", "voices", "start", "nodes", "expect"))
        if top["version"].value != 1:
            raise top["version"].error(f"unsupported version {top['version'].value!r} (expected 1)")
        scenario_id = top["id"].text()
        if not _SCENARIO_ID.fullmatch(scenario_id):
            raise top["id"].error(f"bad id {scenario_id!r}: use [a-z0-9-]")
        description = top["description"].text() if "description" in top else ""
        language = top["language"].text() if "language" in top else "en"
        line = self.line(top["line"])
        voices = self.voices(top["voices"])
        nodes_at = top["nodes"].mapping()
        if not nodes_at:
            raise top["nodes"].error("needs at least one node")
        nodes: dict[str, Node] = {}
        for node_id, at in nodes_at.items():
            if not _NODE_ID.fullmatch(node_id):
                raise at.error(f"bad node id {node_id!r}: use [a-z][a-z0-9_-]*")
            nodes[node_id] = self.node(node_id, at, voices)
        start = self.ref(top["start"])
        expect = self.expectation(top["expect"], nodes)
        for at, target in self.references:
            if target not in nodes:
                raise at.error(f"unknown node {target!r}")
        for node_id, node in nodes.items():
            secret = node.collect.equals if isinstance(node, CollectNode) else None
            if secret is not None and secret not in expect.secrets:
                at = nodes_at[node_id].child("collect").child("equals")
                raise at.error(f"unknown secret {secret!r} (not in expect.secrets)")
        self.secrets_only_in_equals(root)
        return Scenario(scenario_id, description, language, line, voices, start, nodes, expect, self.source)

    def line(self, at: _At) -> Line:
        keys = at.mapping(frozenset({"number", "rings", "answer"}), required=("number",))
        number = keys["number"].text()
        if not _NUMBER.fullmatch(number):
            raise keys["number"].error(f"bad number {number!r}: digits with an optional leading +")
        rings = keys["rings"].integer() if "rings" in keys else 0
        answer = keys["answer"].choice(Answer) if "answer" in keys else Answer.OK
        return Line(number, rings, answer)

    def voices(self, at: _At) -> dict[str, Voice]:
        voices: dict[str, Voice] = {}
        for name, value in at.mapping(required=("ivr",)).items():
            text = value.text()
            if text == "recorded":
                voices[name] = Voice(recorded=True)
            elif (match := re.fullmatch(r"tts:([A-Za-z0-9_.+-]+)", text)) is not None:
                voices[name] = Voice(recorded=False, tts_id=match.group(1))
            else:
                raise value.error(f"must be 'recorded' or 'tts:<voice-id>', not {text!r}")
        return voices

    def node(self, node_id: str, at: _At, voices: Mapping[str, Voice]) -> Node:
        keys = at.mapping(_NODE_KEYS)
        kind = frozenset(keys)
        if kind not in _KINDS:
            raise at.error(
                f"is none of the six node kinds (say+next, say+input, say+collect, hold+next, "
                f"human, say+hangup): has {', '.join(sorted(kind)) or 'no keys'}"
            )
        if kind == {"human"}:
            human = keys["human"].mapping(frozenset({"voice", "say", "patience"}), required=("voice", "say"))
            voice = human["voice"].text()
            if voice not in voices:
                raise human["voice"].error(f"unknown voice {voice!r} (not in voices)")
            patience = human["patience"].seconds() if "patience" in human else 20.0
            return HumanNode(node_id, voice, human["say"].text(), patience)
        if kind == {"hold", "next"}:
            return HoldNode(node_id, self.hold(keys["hold"]), self.ref(keys["next"]))
        say = keys["say"].text()
        if "next" in keys:
            return SayNode(node_id, say, self.ref(keys["next"]))
        if "input" in keys:
            return MenuNode(node_id, say, self.menu(keys["input"]))
        if "collect" in keys:
            return CollectNode(node_id, say, self.collect(keys["collect"]))
        if not keys["hangup"].flag():
            raise keys["hangup"].error("must be true (an ending hangs up)")
        return EndNode(node_id, say)

    def menu(self, at: _At) -> MenuInput:
        keys = at.mapping(frozenset({"dtmf", "speech", "timeout", "retries", "invalid", "on_fail"}))
        if "dtmf" not in keys and "speech" not in keys:
            raise at.error("needs 'dtmf' or 'speech' (or both)")
        dtmf: dict[str, str] = {}
        if "dtmf" in keys:
            for key, target in _items(keys["dtmf"]):
                dtmf[_At(at.source, target.path, key).digit()] = self.ref(target)
        speech: dict[str, str] = {}
        if "speech" in keys:
            for key, target in _items(keys["speech"]):
                if not isinstance(key, str) or not key.strip():
                    raise target.error(f"keyword {key!r} must be a non-empty string")
                speech[key.strip().lower()] = self.ref(target)
        return MenuInput(
            dtmf=dtmf,
            speech=speech,
            timeout=keys["timeout"].seconds() if "timeout" in keys else 6.0,
            retries=keys["retries"].integer() if "retries" in keys else 2,
            invalid=self.ref(keys["invalid"]) if "invalid" in keys else None,
            on_fail=self.ref(keys["on_fail"]) if "on_fail" in keys else None,
        )

    def collect(self, at: _At) -> Collection:
        keys = at.mapping(
            frozenset({"digits", "terminator", "timeout", "equals", "next", "invalid"}), required=("next",)
        )
        if "digits" not in keys and "terminator" not in keys:
            raise at.error("needs 'digits' or 'terminator' (or both)")
        equals = None
        if "equals" in keys:
            text = keys["equals"].text()
            match = _SECRET_REF.fullmatch(text)
            if match is None:
                raise keys["equals"].error("must reference a secret as '{name}'")
            equals = match.group(1)
        return Collection(
            next=self.ref(keys["next"]),
            digits=keys["digits"].integer(minimum=1) if "digits" in keys else None,
            terminator=keys["terminator"].digit() if "terminator" in keys else None,
            timeout=keys["timeout"].seconds() if "timeout" in keys else 10.0,
            equals=equals,
            invalid=self.ref(keys["invalid"]) if "invalid" in keys else None,
        )

    def hold(self, at: _At) -> HoldSpec:
        keys = at.mapping(
            frozenset({"music", "seconds", "announce", "position", "offer_callback"}), required=("seconds",)
        )
        announce = None
        if "announce" in keys:
            spoken = keys["announce"].mapping(
                frozenset({"say", "every", "over_music"}), required=("say", "every")
            )
            announce = Announcement(
                spoken["say"].text(),
                spoken["every"].seconds(),
                spoken["over_music"].flag() if "over_music" in spoken else False,
            )
        position = keys["position"].flag() if "position" in keys else False
        callback = keys["offer_callback"].digit() if "offer_callback" in keys else None
        if (position or callback) and announce is None:
            raise at.error("'position' and 'offer_callback' are spoken with announcements: add 'announce'")
        return HoldSpec(
            seconds=keys["seconds"].seconds(),
            music=keys["music"].choice(Music) if "music" in keys else Music.MOH,
            announce=announce,
            position=position,
            offer_callback=callback,
        )

    def expectation(self, at: _At, nodes: Mapping[str, Node]) -> Expectation:
        keys = at.mapping(
            frozenset({"intent", "secrets", "outcome", "reaches", "path", "max_seconds"}),
            required=("intent",),
        )
        secrets: dict[str, str] = {}
        if "secrets" in keys:
            for name, value in _items(keys["secrets"]):
                if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise value.error(f"bad secret name {name!r}")
                if isinstance(value.value, int) and not isinstance(value.value, bool):
                    raise value.error("must be a quoted string (leading zeros would be lost)")
                secrets[name] = value.text()
        outcome = keys["outcome"].choice(Outcome) if "outcome" in keys else Outcome.HUMAN
        reaches = None
        if "reaches" in keys:
            reaches = self.ref(keys["reaches"])
            if reaches in nodes and not isinstance(nodes[reaches], HumanNode):
                raise keys["reaches"].error(f"node {reaches!r} is not a human node")
            if outcome is not Outcome.HUMAN:
                raise keys["reaches"].error("only for outcome human")
        elif outcome is Outcome.HUMAN:
            raise at.error("missing key 'reaches' (outcome human)")
        path = None
        if "path" in keys:
            if not isinstance(keys["path"].value, list) or not keys["path"].value:
                raise keys["path"].error("must be a non-empty list of node ids")
            path = tuple(self.ref(keys["path"].item(i)) for i in range(len(keys["path"].value)))
        return Expectation(
            intent=keys["intent"].text(),
            secrets=secrets,
            outcome=outcome,
            reaches=reaches,
            path=path,
            max_seconds=keys["max_seconds"].seconds() if "max_seconds" in keys else 150.0,
        )

    def secrets_only_in_equals(self, root: _At) -> None:
        """``{name}`` is a secret reference; it may appear only in ``collect.equals``."""
        for path, text in _strings(root.value, ""):
            if path.endswith(".collect.equals") and path.startswith("nodes."):
                continue
            if path.startswith("expect.secrets."):
                continue
            if match := _SECRET_REF.search(text):
                raise _At(self.source, path, text).error(
                    f"secret reference {match.group(0)} is only allowed in collect.equals"
                )


def _items(at: _At) -> list[tuple[object, _At]]:
    if not isinstance(at.value, Mapping):
        raise at.error(f"must be a mapping, not {_kind(at.value)}")
    return [(key, _At(at.source, f"{at.path}.{key}", value)) for key, value in at.value.items()]


def _strings(value: object, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    found: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found += _strings(item, f"{path}.{key}" if path else str(key))
            if isinstance(key, str) and _SECRET_REF.search(key):
                found.append((f"{path}.{key}" if path else key, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _strings(item, f"{path}.{index}")
    return found


# -- public -------------------------------------------------------------------------------------


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    """A scenario from YAML text; ``source`` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError(f"{source}: not valid YAML: {err}") from err
    return _Parser(source).scenario(data)


def load_scenario(path: Path | str) -> Scenario:
    """A scenario from a YAML file; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{path.name}: cannot read: {err.strerror}") from err
    return parse_scenario(text, source=path.name)


def load_scenarios(directory: Path | str = SCENARIO_DIR) -> list[Scenario]:
    """Every ``*.yaml`` in ``directory`` (the shipped scenarios by default), by file name.

    Ids and numbers must be unique: the simulator routes calls by number.
    """
    scenarios = [load_scenario(path) for path in sorted(Path(directory).glob("*.yaml"))]
    check_unique(scenarios)
    return scenarios


def check_unique(scenarios: list[Scenario]) -> None:
    """Raise :class:`ScenarioError` if two scenarios share an id or a number."""
    ids: dict[str, str] = {}
    numbers: dict[str, str] = {}
    for scenario in scenarios:
        if (other := ids.setdefault(scenario.id, scenario.source)) != scenario.source:
            raise ScenarioError(f"{scenario.source}: id: {scenario.id!r} is also used by {other}")
        number = scenario.dial_number
        if (other := numbers.setdefault(number, scenario.source)) != scenario.source:
            raise ScenarioError(
                f"{scenario.source}: line.number: {scenario.line.number} is also used by {other}"
            )
