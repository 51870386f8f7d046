"""Scenario loading: every shipped scenario validates; every kind of mistake is named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from custom_components.hold_slayer.demo.scenario import (
    SCENARIO_DIR,
    Answer,
    CollectNode,
    EndNode,
    Expectation,
    HoldNode,
    HoldSpec,
    HumanNode,
    MenuNode,
    Music,
    Outcome,
    SayNode,
    ScenarioError,
    check_unique,
    load_scenario,
    load_scenarios,
    parse_scenario,
)

SHARED = Path("/work/shared/scenarios")

GOOD = """
version: 1
id: acme
description: test
language: en
line: {number: "+18005550100", rings: 2, answer: ok}
voices: {ivr: recorded, agent: "tts:human-1"}
start: welcome
nodes:
  welcome: {say: "Hello.", next: main}
  main:
    say: "Press 1."
    input:
      dtmf: {"1": billing, 2: support}
      speech: {"Billing": billing}
      timeout: 6
      retries: 2
      invalid: main
      on_fail: bye
  billing:
    say: "Enter it."
    collect: {digits: 4, terminator: "#", timeout: 5, equals: "{pin}", next: queue, invalid: billing}
  support: {say: "Closed.", hangup: true}
  queue:
    hold:
      music: piano
      seconds: 10
      announce: {say: "Wait.", every: 4, over_music: true}
      position: true
      offer_callback: "2"
    next: agent
  agent: {human: {voice: agent, say: "Hi.", patience: 5}}
  bye: {say: "Goodbye.", hangup: true}
expect:
  intent: "a bill"
  secrets: {pin: "0042"}
  outcome: human
  reaches: agent
  path: [welcome, main, billing, queue, agent]
  max_seconds: 60
"""


def test_every_shipped_scenario_loads() -> None:
    """The shipped set: at least 15, unique ids and numbers, the shared examples unchanged."""
    scenarios = load_scenarios()
    assert len(scenarios) >= 15
    ids = {scenario.id for scenario in scenarios}
    assert {"acme-bank-billing", "busy-line", "telco-speech-ivr"} <= ids
    for name in ("acme-bank-billing", "busy-line", "telco-speech-ivr"):
        assert (SCENARIO_DIR / f"{name}.yaml").read_text() == (SHARED / f"{name}.yaml").read_text()
    for scenario in scenarios:
        assert scenario.source == f"{scenario.id}.yaml", "file name = id"
        assert scenario.expect.max_seconds <= 160
        for version in (scenario, scenario.second_call):
            if version is not None and version.expect.path is not None:
                assert version.expect.path[0] == version.start
                assert version.expect.path[-1] == version.expect.reaches
    assert sum(scenario.second_call is not None for scenario in scenarios) >= 2
    answers = {scenario.line.answer for scenario in scenarios}
    assert answers == set(Answer)
    kinds = {type(node) for scenario in scenarios for node in scenario.nodes.values()}
    assert kinds == {SayNode, MenuNode, CollectNode, HoldNode, HumanNode, EndNode}
    musics = {
        node.hold.music
        for scenario in scenarios
        for node in scenario.nodes.values()
        if isinstance(node, HoldNode)
    }
    assert musics == set(Music)


def test_good_scenario_parses_into_the_model() -> None:
    """Every field lands where it belongs, with types normalised."""
    scenario = parse_scenario(GOOD, source="acme.yaml")
    assert scenario.line.number == "+18005550100"
    assert scenario.dial_number == "18005550100"
    assert scenario.voices["ivr"].recorded
    assert scenario.voices["agent"].tts_id == "human-1"
    main = scenario.nodes["main"]
    assert isinstance(main, MenuNode)
    assert dict(main.input.dtmf) == {"1": "billing", "2": "support"}
    assert dict(main.input.speech) == {"billing": "billing"}
    billing = scenario.nodes["billing"]
    assert isinstance(billing, CollectNode)
    assert billing.collect.equals == "pin"
    assert billing.collect.terminator == "#"
    queue = scenario.nodes["queue"]
    assert isinstance(queue, HoldNode)
    assert queue.hold.announce is not None
    assert queue.hold.announce.over_music
    assert queue.hold.offer_callback == "2"
    assert scenario.expect.outcome is Outcome.HUMAN
    assert scenario.expect.path == ("welcome", "main", "billing", "queue", "agent")
    with pytest.raises(AttributeError):
        scenario.id = "other"  # type: ignore[misc]


def _broken(change: str, value: object) -> str:
    data = yaml.safe_load(GOOD)
    *parents, last = change.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return yaml.safe_dump(data)


DELETE = object()


@pytest.mark.parametrize(
    ("change", "value", "message"),
    [
        ("colour", "blue", "acme.yaml: colour: unknown key"),
        (
            "nodes.main.input.dtmf.3",
            "helpdesk",
            "acme.yaml: nodes.main.input.dtmf.3: unknown node 'helpdesk'",
        ),
        ("nodes.main.input.dtmf.x", "billing", "acme.yaml: nodes.main.input.dtmf.x: must be one DTMF key"),
        ("nodes.main.input.timeout", "six", "nodes.main.input.timeout: must be a number of seconds, not str"),
        ("nodes.main.input.retries", -1, "nodes.main.input.retries: must be at least 0"),
        ("nodes.main.input.retries", True, "nodes.main.input.retries: must be an integer, not bool"),
        ("nodes.main.input.speek", {}, "nodes.main.input.speek: unknown key"),
        ("nodes.welcome.next", "nowhere", "nodes.welcome.next: unknown node 'nowhere'"),
        ("nodes.welcome.hangup", True, "nodes.welcome: is none of the six node kinds"),
        ("nodes.support.hangup", False, "nodes.support.hangup: must be true"),
        ("nodes.odd", {"say": "x"}, "nodes.odd: is none of the six node kinds"),
        ("nodes.Bad Id", {"say": "x", "hangup": True}, "nodes.Bad Id: bad node id"),
        ("nodes.welcome.say", "Your PIN is {pin}.", "nodes.welcome.say: secret reference {pin} is only"),
        (
            "expect.intent",
            "pay {pin}",
            "expect.intent: secret reference {pin} is only allowed in collect.equals",
        ),
        ("nodes.billing.collect.equals", "{nope}", "collect.equals: unknown secret 'nope'"),
        ("nodes.billing.collect.equals", "0042", "collect.equals: must reference a secret as '{name}'"),
        ("nodes.billing.collect.digits", 0, "nodes.billing.collect.digits: must be at least 1"),
        ("nodes.billing.collect.next", DELETE, "nodes.billing.collect: missing key 'next'"),
        ("nodes.queue.hold.music", "jazz", "nodes.queue.hold.music: must be one of moh | piano"),
        ("nodes.queue.hold.seconds", 0, "nodes.queue.hold.seconds: must be more than 0"),
        ("nodes.queue.hold.announce", DELETE, "nodes.queue.hold: 'position' and 'offer_callback'"),
        ("nodes.agent.human.voice", "boss", "nodes.agent.human.voice: unknown voice 'boss'"),
        ("id", "Acme_Bank", "acme.yaml: id: bad id 'Acme_Bank'"),
        ("version", 2, "acme.yaml: version: unsupported version 2"),
        ("line.number", "call-me", "line.number: bad number 'call-me'"),
        ("line.answer", "maybe", "line.answer: must be one of ok | busy"),
        ("line.rings", "two", "line.rings: must be an integer, not str"),
        ("voices.agent", "piper", "voices.agent: must be 'recorded' or 'tts:<voice-id>'"),
        ("voices.ivr", DELETE, "acme.yaml: voices: missing key 'ivr'"),
        ("start", "begin", "acme.yaml: start: unknown node 'begin'"),
        ("nodes", {}, "acme.yaml: nodes: needs at least one node"),
        ("nodes", ["welcome"], "acme.yaml: nodes: must be a mapping, not list"),
        ("expect.reaches", "queue", "expect.reaches: node 'queue' is not a human node"),
        ("expect.reaches", DELETE, "acme.yaml: expect: missing key 'reaches' (outcome human)"),
        ("expect.outcome", "busy", "expect.reaches: only for outcome human"),
        ("expect.path", [], "expect.path: must be a non-empty list"),
        ("expect.path", ["welcome", "lost"], "expect.path.1: unknown node 'lost'"),
        ("expect.secrets", {"pin": 42}, "expect.secrets.pin: must be a quoted string"),
        ("expect.secrets", {"bad name": "1"}, "bad secret name 'bad name'"),
        ("expect.secrets", ["pin"], "expect.secrets: must be a mapping, not list"),
        ("description", "", "acme.yaml: description: must be a non-empty string"),
        ("nodes.main.input.speech", {"": "billing"}, "keyword '' must be a non-empty string"),
        ("nodes.main.input", {"timeout": 3}, "nodes.main.input: needs 'dtmf' or 'speech'"),
        ("nodes.billing.collect", {"next": "queue"}, "nodes.billing.collect: needs 'digits' or 'terminator'"),
        ("nodes.queue.hold.announce.over_music", "yes", "over_music: must be true or false, not str"),
    ],
)
def test_validation_errors(change: str, value: object, message: str) -> None:
    """Each mistake is a ScenarioError naming the file and the key path."""
    with pytest.raises(ScenarioError) as error:
        parse_scenario(_broken(change, value), source="acme.yaml")
    assert message in str(error.value)


@pytest.mark.parametrize(
    "path",
    sorted(SCENARIO_DIR.glob("*.yaml")) + sorted(SHARED.glob("*.yaml")),
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_every_scenario_file_loads(path: Path) -> None:
    """Each file, shipped or shared, passes the schema and the name checks on its own."""
    scenario = load_scenario(path)
    assert scenario.source == path.name
    assert scenario.start in scenario.nodes
    assert all(node_id == node.id for node_id, node in scenario.nodes.items())


def test_left_out_keys_take_the_format_defaults() -> None:
    """A minimal scenario: every optional key gets its documented default; DTMF keys are normalised."""
    scenario = parse_scenario(
        """
version: 1
id: tiny
line: {number: "5550100"}
voices: {ivr: recorded}
start: menu
nodes:
  menu: {say: "Press 1.", input: {dtmf: {1: call, "a": call}}}
  call: {say: "Code?", collect: {terminator: "#", next: queue}}
  queue: {hold: {seconds: 5}, next: agent}
  agent: {human: {voice: ivr, say: "Hi."}}
expect: {intent: "talk", reaches: agent}
"""
    )
    assert (scenario.source, scenario.description, scenario.language) == ("<scenario>", "", "en")
    assert (scenario.line.rings, scenario.line.answer) == (0, Answer.OK)
    menu = scenario.nodes["menu"]
    assert isinstance(menu, MenuNode)
    assert dict(menu.input.dtmf) == {"1": "call", "A": "call"}
    assert (dict(menu.input.speech), menu.input.timeout, menu.input.retries) == ({}, 6.0, 2)
    assert (menu.input.invalid, menu.input.on_fail) == (None, None)
    call = scenario.nodes["call"]
    assert isinstance(call, CollectNode)
    assert (call.collect.digits, call.collect.timeout, call.collect.equals, call.collect.invalid) == (
        None,
        10.0,
        None,
        None,
    )
    queue = scenario.nodes["queue"]
    assert isinstance(queue, HoldNode)
    assert queue.hold == HoldSpec(seconds=5.0)
    assert isinstance(queue.hold.seconds, float)
    agent = scenario.nodes["agent"]
    assert isinstance(agent, HumanNode)
    assert agent.patience == 20.0
    assert scenario.expect == Expectation(intent="talk", reaches="agent")


@pytest.mark.parametrize(
    ("change", "value", "message"),
    [
        # unknown keys, wherever they are
        ("nodes.welcome.colour", "red", "nodes.welcome.colour: unknown key"),
        ("nodes.queue.hold.announce.loud", True, "nodes.queue.hold.announce.loud: unknown key"),
        ("nodes.agent.human.name", "Sarah", "nodes.agent.human.name: unknown key"),
        ("nodes.billing.collect.length", 4, "nodes.billing.collect.length: unknown key"),
        ("line.ring", 2, "line.ring: unknown key"),
        ("expect.outcomes", "human", "expect.outcomes: unknown key"),
        ("nodes.odd", {"say": "x", "nxt": "main"}, "nodes.odd.nxt: unknown key"),
        # missing keys and shapes
        ("expect", DELETE, "missing key 'expect'"),
        ("nodes.queue.hold.announce.every", DELETE, "nodes.queue.hold.announce: missing key 'every'"),
        ("nodes.agent.human.voice", DELETE, "nodes.agent.human: missing key 'voice'"),
        (
            "nodes.odd",
            {},
            "nodes.odd: is none of the six node kinds (say+next, say+input, say+collect, "
            "hold+next, human, say+hangup): has no keys",
        ),
        ("nodes.odd", "Hello.", "nodes.odd: must be a mapping, not str"),
        # wrong types
        ("line", "+18005550100", "line: must be a mapping, not str"),
        ("nodes.main.input.dtmf", ["billing"], "nodes.main.input.dtmf: must be a mapping, not list"),
        ("nodes.welcome.say", 5, "nodes.welcome.say: must be a non-empty string, not int"),
        ("nodes.queue.hold.seconds", "45", "nodes.queue.hold.seconds: must be a number of seconds, not str"),
        (
            "nodes.billing.collect.timeout",
            True,
            "nodes.billing.collect.timeout: must be a number of seconds, not bool",
        ),
        ("nodes.queue.hold.position", "yes", "nodes.queue.hold.position: must be true or false, not str"),
        ("nodes.billing.collect.digits", 4.5, "nodes.billing.collect.digits: must be an integer, not float"),
        (
            "expect.outcome",
            "agent",
            "expect.outcome: must be one of human | busy | not_found | unavailable "
            "| no_answer | hung_up, not 'agent'",
        ),
        ("expect.path", "welcome", "expect.path: must be a non-empty list of node ids"),
        # DTMF keys
        (
            "nodes.main.input.dtmf.12",
            "billing",
            "nodes.main.input.dtmf.12: must be one DTMF key (0-9 * # A-D), not '12'",
        ),
        (
            "nodes.billing.collect.terminator",
            "##",
            "nodes.billing.collect.terminator: must be one DTMF key (0-9 * # A-D), not '##'",
        ),
        (
            "nodes.queue.hold.offer_callback",
            "E",
            "nodes.queue.hold.offer_callback: must be one DTMF key (0-9 * # A-D), not 'E'",
        ),
        # dangling references
        ("nodes.main.input.speech.billing", "bill", "nodes.main.input.speech.billing: unknown node 'bill'"),
        ("nodes.main.input.invalid", "oops", "nodes.main.input.invalid: unknown node 'oops'"),
        ("nodes.main.input.on_fail", "gone", "nodes.main.input.on_fail: unknown node 'gone'"),
        ("nodes.billing.collect.invalid", "again", "nodes.billing.collect.invalid: unknown node 'again'"),
        ("nodes.billing.collect.next", "later", "nodes.billing.collect.next: unknown node 'later'"),
        ("nodes.queue.next", "lost", "nodes.queue.next: unknown node 'lost'"),
        ("expect.reaches", "ghost", "expect.reaches: unknown node 'ghost'"),
        # secrets are referenced in collect.equals only
        (
            "nodes.agent.human.say",
            "Is your PIN {pin}?",
            "nodes.agent.human.say: secret reference {pin} is only allowed in collect.equals",
        ),
        (
            "nodes.queue.hold.announce.say",
            "{pin}",
            "nodes.queue.hold.announce.say: secret reference {pin} is only allowed in collect.equals",
        ),
        (
            "nodes.main.input.speech",
            {"{pin}": "billing"},
            "nodes.main.input.speech.{pin}: secret reference {pin} is only allowed in collect.equals",
        ),
        (
            "nodes.main.input.invalid",
            "{pin}",
            "nodes.main.input.invalid: secret reference {pin} is only allowed in collect.equals",
        ),
        # durations and counts
        (
            "nodes.main.input.timeout",
            -1,
            "nodes.main.input.timeout: must be more than 0 and at most 3600 seconds",
        ),
        (
            "nodes.agent.human.patience",
            -3,
            "nodes.agent.human.patience: must be more than 0 and at most 3600 seconds",
        ),
        (
            "nodes.queue.hold.announce.every",
            3601,
            "nodes.queue.hold.announce.every: must be more than 0 and at most 3600 seconds",
        ),
        ("expect.max_seconds", -5, "expect.max_seconds: must be more than 0 and at most 3600 seconds"),
        ("line.rings", -1, "line.rings: must be at least 0"),
    ],
)
def test_schema_errors_name_the_exact_path(change: str, value: object, message: str) -> None:
    """What the schema and the name checks catch: the whole message is the file, the path, the rule."""
    with pytest.raises(ScenarioError) as error:
        parse_scenario(_broken(change, value), source="acme.yaml")
    assert str(error.value) == f"acme.yaml: {message}"


def test_top_level_and_yaml_errors(tmp_path: Path) -> None:
    """Not a mapping, not YAML, a non-string key, a missing file."""
    with pytest.raises(ScenarioError, match=r"^x.yaml: must be a mapping, not list$"):
        parse_scenario("- 1\n", source="x.yaml")
    with pytest.raises(ScenarioError, match="x.yaml: not valid YAML"):
        parse_scenario("a: [1,\n", source="x.yaml")
    with pytest.raises(ScenarioError, match="key 1 must be a string"):
        parse_scenario(GOOD + "1: x\n", source="x.yaml")
    with pytest.raises(ScenarioError, match="missing.yaml: cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "good.yaml").write_text(GOOD)
    assert load_scenario(tmp_path / "good.yaml").source == "good.yaml"


def test_ids_and_numbers_must_be_unique(tmp_path: Path) -> None:
    """Two scenarios with one id, or one number (with and without +), cannot be loaded together."""
    first = parse_scenario(GOOD, source="a.yaml")
    same_id = parse_scenario(GOOD.replace("+18005550100", "+18005550101"), source="b.yaml")
    with pytest.raises(ScenarioError, match="b.yaml: id: 'acme' is also used by a.yaml"):
        check_unique([first, same_id])
    same_number = parse_scenario(
        GOOD.replace("id: acme", "id: other").replace("+1800", "1800"), source="c.yaml"
    )
    with pytest.raises(ScenarioError, match="c.yaml: line.number: 18005550100 is also used by a.yaml"):
        check_unique([first, same_number])
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(ScenarioError, match="also used by"):
        load_scenarios(tmp_path)


CHANGED = """
second_call:
  description: "The menu was reorganised: billing moved to 3, and a survey comes first."
  start: survey
  nodes:
    survey: {say: "Stay on the line after your call for a short survey.", next: main}
    main:
      say: "For support, press 1. For billing, press 3."
      input: {dtmf: {"1": support, "3": billing}, invalid: main, on_fail: bye}
  expect:
    path: [survey, main, billing, queue, agent]
    max_seconds: 80
"""


def test_a_second_call_finds_the_changed_menu() -> None:
    """``second_call`` replaces and adds whole nodes; the rest of the line and the caller stay."""
    first = parse_scenario(GOOD + CHANGED, source="acme.yaml")
    second = first.second_call
    assert second is not None
    assert first.for_call(1) is first
    assert first.for_call(2) is second
    assert first.for_call(7) is second
    assert second.for_call(2) is second  # no third version
    assert (first.start, second.start) == ("welcome", "survey")
    assert isinstance(second.nodes["main"], MenuNode)
    assert dict(second.nodes["main"].input.dtmf) == {"1": "support", "3": "billing"}
    assert second.nodes["billing"] is first.nodes["billing"]
    assert "survey" not in first.nodes
    assert second.expect.path == ("survey", "main", "billing", "queue", "agent")
    assert (first.expect.max_seconds, second.expect.max_seconds) == (60, 80)
    assert second.expect.intent == first.expect.intent
    assert second.expect.secrets == first.expect.secrets
    assert second.description.startswith("The menu was reorganised")
    assert (second.id, second.line, second.second_call) == (first.id, first.line, None)
    assert parse_scenario(GOOD, source="acme.yaml").for_call(2).second_call is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ("second_call: {}", "second_call: missing key 'nodes'"),
        ("second_call: {nodes: {}}", "second_call.nodes: needs at least one node"),
        (
            "second_call: {nodes: {main: {say: Hi, input: {dtmf: {'1': nowhere}}}}}",
            "second_call.nodes.main.input.dtmf.1: unknown node 'nowhere'",
        ),
        (
            "second_call: {nodes: {support: {say: Closed., hangup: true}}}",
            "second_call.nodes.support: is the same as the first call's: change it",
        ),
        (
            "second_call: {start: welcome, nodes: {support: {say: Shut., hangup: true}}}",
            "second_call.start: is the same as the first call's: leave it out",
        ),
        (
            "second_call: {nodes: {agent: {say: Bye., hangup: true}}}",
            "second_call.expect.reaches: node 'agent' is not a human node",
        ),
        (
            "second_call: {nodes: {support: {say: Shut., hangup: true}}, expect: {intent: other}}",
            "second_call.expect.intent: unknown key",
        ),
        (
            "second_call: {nodes: {support: {say: Shut., hangup: true}}, line: {number: '1'}}",
            "second_call.line: unknown key",
        ),
        (
            "second_call: {nodes: {support: {say: Shut., hangup: true}}, expect: {path: [main, gone]}}",
            "second_call.expect.path.1: unknown node 'gone'",
        ),
    ],
)
def test_second_call_errors(changes: str, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(GOOD + changes + "\n", source="acme.yaml")
    assert str(error.value) == f"acme.yaml: {message}"
