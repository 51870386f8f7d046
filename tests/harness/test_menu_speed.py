"""How fast a simulated call passed the menu, against an informed human's time."""

from __future__ import annotations

from pathlib import Path

from custom_components.hold_slayer.demo.scenario import load_scenario
from custom_components.hold_slayer.demo.simulator import CallRecord
from harness.simulation import menu_speed

SCENARIOS = Path(__file__).resolve().parents[2] / "custom_components" / "hold_slayer" / "demo" / "scenarios"


def test_the_answers_are_timed_from_the_first_key_or_word_to_the_lines_next_step() -> None:
    scenario = load_scenario(SCENARIOS / "statewide-dmv-speech.yaml")
    record = CallRecord(scenario.id, scenario.dial_number, "call", started_at=100.0, answered_at=100.0)
    # hello (a 5 s prompt), our words at 106 s heard by 109 s; confirm (5 s), "yes" at 115.5 s;
    # birth (4 s): eight keys from 121 s to 122.6 s; the queue.
    record.path = [("hello", 100.0), ("confirm", 109.0), ("birth", 116.5), ("queue", 122.6), ("agent", 150.0)]
    record.prompt_seconds = {"hello": 5.0, "confirm": 5.0, "birth": 4.0}
    record.keyed_or_spoke = [106.0, 115.5, *(121.0 + 0.2 * key for key in range(8)), 151.0]
    speed = menu_speed(scenario, record)
    assert speed == {"to_queue_s": 22.6, "informed_s": 17.0, "answering_s": 3.0 + 1.0 + 1.6}


def test_a_menu_that_timed_out_adds_no_answer() -> None:
    scenario = load_scenario(SCENARIOS / "statewide-dmv-speech.yaml")
    record = CallRecord(scenario.id, scenario.dial_number, "call", started_at=100.0, answered_at=100.0)
    record.path = [("hello", 100.0), ("hello", 112.0), ("confirm", 120.0), ("birth", 127.0), ("queue", 133.0)]
    record.prompt_seconds = {"hello": 5.0, "confirm": 5.0, "birth": 4.0}
    record.keyed_or_spoke = [117.0, 126.0, 131.0]
    speed = menu_speed(scenario, record)
    assert speed["answering_s"] == 3.0 + 1.0 + 2.0


def test_keys_typed_over_the_prompt_count_from_its_end() -> None:
    scenario = load_scenario(SCENARIOS / "statewide-dmv-speech.yaml")
    record = CallRecord(scenario.id, scenario.dial_number, "call", started_at=100.0, answered_at=100.0)
    record.path = [("hello", 100.0), ("confirm", 105.5), ("birth", 111.2), ("queue", 116.0)]
    record.prompt_seconds = {"hello": 5.0, "confirm": 5.0, "birth": 4.0}
    record.keyed_or_spoke = [104.0, 109.0, 114.5]  # each answer begun 0.7-1.5 s before its prompt ended
    assert menu_speed(scenario, record)["answering_s"] == 0.5 + 0.7 + 0.8
