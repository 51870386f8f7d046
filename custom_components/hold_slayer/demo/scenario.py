"""Company scenarios (``/work/shared/scenarios/FORMAT.md``, version 1): strict loading and validation.

Typos must not pass silently, so every unknown key, wrong type or dangling reference is a
:class:`ScenarioError` naming the file and the key path, e.g.
``acme.yaml: nodes.main.input.dtmf.3: unknown node 'helpdesk'``.

One key beyond the shared format (``docs/scenarios.md``): ``second_call``, the line as it
answers from the second call to its number on — a menu the company changed since the first
call, for learned-route replay. It replaces or adds whole nodes (and may move ``start``), and
may score the second call differently (``expect``: ``reaches``, ``path``, ``max_seconds``);
:attr:`Scenario.second_call` is that line as a scenario of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, Final

import voluptuous as vol
import yaml

SCENARIO_DIR: Final = Path(__file__).with_name("scenarios")
_SECRET_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TTS_VOICE = re.compile(r"tts:([A-Za-z0-9_.+-]+)")
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
    barge_in: bool = True  # keys and words stop a menu's prompt; false: what comes during one is lost


@dataclass(frozen=True, slots=True)
class Voice:
    """A named voice: real recorded prompts, or a TTS voice id (mapped to an engine voice)."""

    recorded: bool
    tts_id: str | None = None


@dataclass(frozen=True, slots=True)
class MenuInput:
    """What a menu listens for."""

    dtmf: Mapping[str, str] = field(default_factory=dict)
    speech: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 6.0
    retries: int = 2
    invalid: str | None = None
    on_fail: str | None = None


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
    # The line from the second call on (its menu changed), whole; ``None``: every call is alike.
    second_call: Scenario | None = None

    def for_call(self, number: int) -> Scenario:
        """The line as the ``number``-th call to it (1, 2, …) finds it (on the same ``line``)."""
        if number < 2 or self.second_call is None:
            return self
        if self.second_call.line == self.line:
            return self.second_call
        return replace(self.second_call, line=self.line)  # the first call's line was replaced

    @property
    def dial_number(self) -> str:
        """The number without ``+`` (how the simulator matches a Request-URI)."""
        return self.line.number.removeprefix("+")


# -- the schema ---------------------------------------------------------------------------------
# Loading has two stages. The voluptuous schema `_SCENARIO` checks each value where it stands and
# builds the dataclasses above (the defaults live on them); `_check_names` then checks what no
# single value shows: that every node, voice and secret a value names is declared in the file.
# A validator returns the value checked (and normalised) or raises `vol.Invalid` in words that
# read after "file: key.path: ". Types are checked exactly: YAML's true/false load as bools and
# unquoted digits as ints, and a bool is also an int in Python.


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _rule(test: Callable[[Any], object], message: str) -> Callable[[Any], Any]:
    """A validator passing on what ``test`` accepts; ``message`` may use ``{value!r}`` and ``{kind}``."""

    def check(value: Any) -> Any:
        if not test(value):
            raise vol.Invalid(message.format(value=value, kind=_kind(value)))
        return value

    return check


def _is(*kinds: type) -> Callable[[object], bool]:
    return lambda value: isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


_MAPPING: Final = _rule(_is(Mapping), "must be a mapping, not {kind}")
_INTEGER: Final = _rule(_is(int), "must be an integer, not {kind}")
_FLAG: Final = _rule(_is(bool), "must be true or false, not {kind}")
_STRING: Final = _rule(
    lambda value: isinstance(value, str) and value.strip(), "must be a non-empty string, not {kind}"
)
# Every duration: more than 0 (a zero timeout or hold is a typo) and at most an hour.
_SECONDS: Final = vol.All(
    _rule(_is(int, float), "must be a number of seconds, not {kind}"),
    vol.Coerce(float),
    vol.Range(min=0, min_included=False, max=3600, msg="must be more than 0 and at most 3600 seconds"),
)


def _count(minimum: int) -> vol.All:
    return vol.All(_INTEGER, vol.Range(min=minimum, msg=f"must be at least {minimum}"))


def _fields(value: object) -> Mapping[object, object]:
    """A mapping keyed by names: the format's own keys, node ids, voice names."""
    mapping: Mapping[object, object] = _MAPPING(value)
    for key in mapping:
        if not isinstance(key, str):
            raise vol.Invalid(f"key {key!r} must be a string")
    return mapping


def _text(value: object) -> str:
    """Any string but ``collect.equals`` and a secret's value: no ``{secret}`` references.

    Hold Slayer only ever sends a secret as key tones, so a scenario may use one only where the
    line collects digits; in a prompt or in the intent it would be spoken or shown in clear.
    """
    text: str = _STRING(value)
    if match := _SECRET_REF.search(text):
        raise vol.Invalid(f"secret reference {match.group(0)} is only allowed in collect.equals")
    return text


def _matching(pattern: str, message: str) -> vol.All:
    """The whole string matches (``vol.Match`` anchors only the start, and hides the value)."""
    return vol.All(_STRING, _rule(re.compile(pattern).fullmatch, message))


def _one_of(kind: type[StrEnum]) -> vol.All:
    options = " | ".join(kind)
    is_option = _rule(set(kind).__contains__, f"must be one of {options}, not {{value!r}}")
    return vol.All(_STRING, is_option, vol.Coerce(kind))


def _key(value: object) -> str:
    """One DTMF key, upper case; an unquoted digit arrives as an int."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return str(value)
    if isinstance(value, str) and len(value) == 1 and value.upper() in _DTMF:
        return value.upper()
    raise vol.Invalid(f"must be one DTMF key (0-9 * # A-D), not {value!r}")


def _voice(value: object) -> Voice:
    if (text := _STRING(value)) == "recorded":
        return Voice(recorded=True)
    if (match := _TTS_VOICE.fullmatch(text)) is not None:
        return Voice(recorded=False, tts_id=match.group(1))
    raise vol.Invalid(f"must be 'recorded' or 'tts:<voice-id>', not {text!r}")


def _reaches_for_human_only(expect: dict[str, Any]) -> dict[str, Any]:
    """``reaches`` is the node where the live person answers, so exactly outcome human has one."""
    human = expect.get("outcome", Outcome.HUMAN) is Outcome.HUMAN
    if human and "reaches" not in expect:
        raise vol.Invalid("missing key 'reaches' (outcome human)")
    if not human and "reaches" in expect:
        raise vol.Invalid("only for outcome human", path=["reaches"])
    return expect


def _record(keys: dict[Any, Any], *then: Callable[[Any], Any]) -> vol.All:
    """A mapping with these keys (a plain key is optional) and no others, then ``then``."""
    return vol.All(_fields, vol.Schema(keys, extra=vol.PREVENT_EXTRA), *then)


def _build[T](kind: Callable[..., T]) -> Callable[[dict[str, Any]], T]:
    return lambda fields: kind(**fields)


# Where a value names a node or a secret, `_check_names` checks that it is declared.
_NODE: Final = _text
_EQUALS: Final = vol.All(
    _STRING, _rule(_SECRET_REF.fullmatch, "must reference a secret as '{{name}}'"), lambda ref: ref[1:-1]
)
_SECRET: Final = vol.All(
    _rule(lambda value: not _is(int)(value), "must be a quoted string (leading zeros would be lost)"), _STRING
)
# Speech keywords are recognised case-insensitively.
_KEYWORD: Final = vol.All(
    _rule(lambda key: isinstance(key, str) and key.strip(), "keyword {value!r} must be a non-empty string"),
    _text,
    lambda key: key.strip().lower(),
)

_MENU: Final = _record(
    {
        "dtmf": vol.All(_MAPPING, {_key: _NODE}),
        "speech": vol.All(_MAPPING, {_KEYWORD: _NODE}),
        "timeout": _SECONDS,
        "retries": _count(0),
        "invalid": _NODE,
        "on_fail": _NODE,
    },
    _rule(lambda menu: "dtmf" in menu or "speech" in menu, "needs 'dtmf' or 'speech' (or both)"),
    _build(MenuInput),
)
_COLLECT: Final = _record(
    {
        "digits": _count(1),
        "terminator": _key,
        "timeout": _SECONDS,
        "equals": _EQUALS,
        vol.Required("next"): _NODE,
        "invalid": _NODE,
    },
    _rule(lambda keys: "digits" in keys or "terminator" in keys, "needs 'digits' or 'terminator' (or both)"),
    _build(Collection),
)
_HOLD: Final = _record(
    {
        vol.Required("seconds"): _SECONDS,
        "music": _one_of(Music),
        "announce": _record(
            {vol.Required("say"): _text, vol.Required("every"): _SECONDS, "over_music": _FLAG},
            _build(Announcement),
        ),
        "position": _FLAG,
        "offer_callback": _key,
    },
    _rule(  # the caller's position and the callback offer are read out with each announcement
        lambda hold: "announce" in hold or not (hold.get("position") or "offer_callback" in hold),
        "'position' and 'offer_callback' are spoken with announcements: add 'announce'",
    ),
    _build(HoldSpec),
)
_HUMAN: Final = _record({vol.Required("voice"): _text, vol.Required("say"): _text, "patience": _SECONDS})
_NODE_FIELDS: Final = _record(
    {
        "say": _text,
        "next": _NODE,
        "input": _MENU,
        "collect": _COLLECT,
        "hold": _HOLD,
        "human": _HUMAN,
        "hangup": vol.All(_FLAG, vol.In([True], msg="must be true (an ending hangs up)")),
    }
)
# A node's kind is its set of keys. Each builds the node from its fields and its id (its key in nodes).
_NODE_KINDS: Final[dict[frozenset[str], Callable[..., Node]]] = {
    frozenset({"say", "next"}): SayNode,
    frozenset({"say", "input"}): MenuNode,
    frozenset({"say", "collect"}): CollectNode,
    frozenset({"hold", "next"}): HoldNode,
    frozenset({"human"}): lambda node_id, human: HumanNode(node_id, **human),
    frozenset({"say", "hangup"}): lambda node_id, say, hangup: EndNode(node_id, say),
}


def _node(value: object) -> Callable[[str], Node]:
    """Fields first (so a typo reads as an unknown key, not as a wrong kind), then the kind."""
    fields: dict[str, Any] = _NODE_FIELDS(value)
    if (kind := _NODE_KINDS.get(frozenset(fields))) is None:
        raise vol.Invalid(
            "is none of the six node kinds (say+next, say+input, say+collect, hold+next, human, "
            f"say+hangup): has {', '.join(sorted(fields)) or 'no keys'}"
        )
    return partial(kind, **fields)


_NODES: Final = vol.All(
    _fields,
    vol.Length(min=1, msg="needs at least one node"),
    {_matching(r"[a-z][a-z0-9_-]*", "bad node id {value!r}: use [a-z][a-z0-9_-]*"): _node},
    lambda builds: {node_id: build(node_id) for node_id, build in builds.items()},
)
_PATH: Final = vol.All(
    _rule(lambda path: isinstance(path, list) and path, "must be a non-empty list of node ids"),
    [_NODE],
    lambda path: tuple(path),
)
# What changed by the second call: whole nodes replaced or added, maybe a new start, and how the
# second call is scored where that differs (the caller, intent and secrets stay the same).
_SECOND_CALL: Final = _record(
    {
        "description": _text,
        "start": _NODE,
        vol.Required("nodes"): _NODES,
        "expect": _record({"reaches": _NODE, "path": _PATH, "max_seconds": _SECONDS}),
    }
)

_SCENARIO: Final = _record(
    {
        vol.Required("version"): _rule(
            lambda version: version == 1, "unsupported version {value!r} (expected 1)"
        ),
        vol.Required("id"): _matching(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", "bad id {value!r}: use [a-z0-9-]"),
        "description": _text,
        "language": _text,
        vol.Required("line"): _record(
            {
                vol.Required("number"): _matching(
                    r"\+?[0-9]{2,20}", "bad number {value!r}: digits with an optional leading +"
                ),
                "rings": _count(0),
                "answer": _one_of(Answer),
                "barge_in": _FLAG,
            },
            _build(Line),
        ),
        vol.Required("voices"): vol.All(_fields, {vol.Required("ivr"): _voice, _text: _voice}),
        vol.Required("start"): _NODE,
        vol.Required("nodes"): _NODES,
        vol.Required("expect"): _record(
            {
                vol.Required("intent"): _text,
                "secrets": vol.All(
                    _MAPPING, {_matching(r"[A-Za-z_][A-Za-z0-9_]*", "bad secret name {value!r}"): _SECRET}
                ),
                "outcome": _one_of(Outcome),
                "reaches": _NODE,
                "path": _PATH,
                "max_seconds": _SECONDS,
            },
            _reaches_for_human_only,
            _build(Expectation),
        ),
        "second_call": _SECOND_CALL,
    }
)


def _schema_error(source: str, error: vol.Invalid) -> ScenarioError:
    """The first error voluptuous found, in this module's words."""
    while isinstance(error, vol.MultipleInvalid):
        error = error.errors[0]
    path, message = [str(key) for key in error.path], error.error_message
    if isinstance(error, vol.RequiredFieldInvalid):  # the path ends with the missing key
        path, message = path[:-1], f"missing key '{path[-1]}'"
    elif message == "extra keys not allowed":  # voluptuous's words for a key PREVENT_EXTRA refused
        message = "unknown key"
    return _error(source, ".".join(path), message)


def _error(source: str, where: str, message: str) -> ScenarioError:
    return ScenarioError(f"{source}: {where}: {message}" if where else f"{source}: {message}")


# -- names --------------------------------------------------------------------------------------


def _check_names(scenario: Scenario, prefix: str = "") -> None:
    """Every node, voice and secret a value names is declared, and ``reaches`` is a live person.

    ``prefix`` goes before every key path (``second_call.`` for the changed line).
    """
    source, nodes = scenario.source, scenario.nodes
    for where, target in _node_references(scenario):
        if target is not None and target not in nodes:
            raise _error(source, prefix + where, f"unknown node {target!r}")
    for node_id, node in nodes.items():
        if isinstance(node, HumanNode) and node.voice not in scenario.voices:
            where = f"{prefix}nodes.{node_id}.human.voice"
            raise _error(source, where, f"unknown voice {node.voice!r} (not in voices)")
        secret = node.collect.equals if isinstance(node, CollectNode) else None
        if secret is not None and secret not in scenario.expect.secrets:
            where = f"{prefix}nodes.{node_id}.collect.equals"
            raise _error(source, where, f"unknown secret {secret!r} (not in expect.secrets)")
    if (reaches := scenario.expect.reaches) is not None and not isinstance(nodes[reaches], HumanNode):
        raise _error(source, f"{prefix}expect.reaches", f"node {reaches!r} is not a human node")


def _second_call(first: Scenario, changes: Mapping[str, Any]) -> Scenario:
    """The line from the second call on: ``first`` with the changed nodes, start and scoring.

    A node that comes out the same as the first call's is an error: a second call that changes
    nothing is a typo, and it would test no route replay.
    """
    source = first.source
    nodes: Mapping[str, Node] = changes["nodes"]
    for node_id, node in nodes.items():
        if first.nodes.get(node_id) == node:
            raise _error(source, f"second_call.nodes.{node_id}", "is the same as the first call's: change it")
    if "start" in changes and changes["start"] == first.start:
        raise _error(source, "second_call.start", "is the same as the first call's: leave it out")
    expect = replace(first.expect, **changes.get("expect", {}))
    if expect.outcome is not Outcome.HUMAN and "reaches" in changes.get("expect", {}):
        raise _error(source, "second_call.expect.reaches", "only for outcome human")
    second = replace(
        first,
        description=changes.get("description", first.description),
        start=changes.get("start", first.start),
        nodes={**first.nodes, **nodes},
        expect=expect,
    )
    _check_names(second, prefix="second_call.")
    return second


def _node_references(scenario: Scenario) -> Iterator[tuple[str, str | None]]:
    """Each place that names a node (``None`` where an optional one is absent), by key path."""
    yield "start", scenario.start
    for node_id, node in scenario.nodes.items():
        at = f"nodes.{node_id}"
        match node:
            case SayNode() | HoldNode():
                yield f"{at}.next", node.next
            case MenuNode(input=menu):
                yield from ((f"{at}.input.dtmf.{key}", target) for key, target in menu.dtmf.items())
                yield from ((f"{at}.input.speech.{word}", target) for word, target in menu.speech.items())
                yield f"{at}.input.invalid", menu.invalid
                yield f"{at}.input.on_fail", menu.on_fail
            case CollectNode(collect=collect):
                yield f"{at}.collect.next", collect.next
                yield f"{at}.collect.invalid", collect.invalid
    yield "expect.reaches", scenario.expect.reaches
    yield from ((f"expect.path.{index}", node_id) for index, node_id in enumerate(scenario.expect.path or ()))


# -- public -------------------------------------------------------------------------------------


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    """A scenario from YAML text; ``source`` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError(f"{source}: not valid YAML: {err}") from err
    try:
        fields = _SCENARIO(data)
    except vol.Invalid as err:
        raise _schema_error(source, err) from err
    del fields["version"]
    changes = fields.pop("second_call", None)
    scenario = Scenario(**{"description": "", "language": "en", **fields}, source=source)
    _check_names(scenario)
    if changes is not None:
        scenario = replace(scenario, second_call=_second_call(scenario, changes))
    return scenario


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
