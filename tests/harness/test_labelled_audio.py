"""Labelled clips for the classifier (harness/labelled_audio.py), from the sources CI installs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.audio.monitor import EventKind, MonitorEvent
from harness.channel import RATE
from harness.labelled_audio import LABELS, _lpc_from_reflections, clips, comfort_noise, room
from harness.sources import by_name

CI_MUSIC = [by_name("asterisk-moh-opsound"), by_name("drascula-music")]
CI_VOICES = [by_name("codec2-speakers"), by_name("asterisk-en-allison"), by_name("espeak-ng-en")]


def _levels_db(signal: npt.NDArray[np.float64], frame: int = 160) -> npt.NDArray[np.float64]:
    frames = signal[: len(signal) // frame * frame].reshape(-1, frame)
    levels: npt.NDArray[np.float64] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return levels


def test_comfort_noise_changes_level_and_spectrum_in_steps() -> None:
    """As a far end's SID frames make it: a new level every 100-800 ms, within ±4 dB."""
    noise = comfort_noise(8.0, np.random.default_rng(1))
    assert len(noise) == 8 * RATE
    levels = _levels_db(noise, 800)  # 100 ms pieces
    assert 1.0 < np.ptp(levels) <= 8.0 + 3.0
    assert -75 < np.mean(levels) < -30


def test_reflection_coefficients_make_a_stable_filter() -> None:
    lpc = _lpc_from_reflections(np.array([0.8, -0.7, 0.5]))
    assert lpc[0] == 1.0
    assert len(lpc) == 4
    assert np.all(np.abs(np.roots(lpc)) < 1.0)  # |k| < 1 for every stage: all poles inside


def test_a_room_adds_a_decaying_tail() -> None:
    click = np.zeros(RATE)
    click[0] = 1.0
    wet = room(click, np.random.default_rng(2))
    assert wet[0] == pytest.approx(1.0, abs=1e-6)
    tail = np.abs(wet[1 : RATE // 2])
    assert tail[:400].mean() > tail[-400:].mean()


def test_clips_name_their_sources_and_have_every_label() -> None:
    made = list(clips(2, 2.0, 9, music=CI_MUSIC, voices=CI_VOICES, training=True))
    assert [clip.label for clip in made] == [label for label in LABELS for _ in range(2)]
    for clip in made:
        assert len(clip.audio) == 2 * RATE
        assert np.max(np.abs(clip.audio)) <= 1.0
        assert bool(clip.music) == (clip.label in ("music", "speech_over_music"))
        assert bool(clip.voice) == (clip.label in ("speech", "speech_over_music"))
    # Same seed, same clips: figures are reproducible.
    again = list(clips(2, 2.0, 9, music=CI_MUSIC, voices=CI_VOICES, training=True))
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(made, again, strict=True))


def test_a_hold_loops_one_announcement_and_places_the_person() -> None:
    """harness/holds.py: the announcement is one recording replayed; the person's first word is
    where the hold says; a hold without a person names nobody."""
    from harness.holds import hold

    rng = np.random.default_rng(11)
    made = hold(rng, person=True, music=CI_MUSIC, announcers=[by_name("espeak-ng-en")], people=CI_VOICES)
    assert made.person_at is not None
    assert made.person
    assert made.music in {source.name for source in CI_MUSIC}
    assert 0 < made.person_at < len(made.audio) / RATE - 4.0  # then 4 s awaiting a reply
    levels = _levels_db(made.audio[round(made.person_at * RATE) : round((made.person_at + 0.5) * RATE)])
    assert np.max(levels) > np.median(_levels_db(made.audio[-3 * RATE :])) + 10  # a voice, not the pause
    nobody = hold(rng, person=False, music=CI_MUSIC, announcers=[by_name("espeak-ng-en")], people=CI_VOICES)
    assert nobody.person_at is None
    assert nobody.person == ""


def test_a_cut_in_hold_has_its_person_cut_the_last_announcement_off() -> None:
    """harness/holds.py, ``cuts_in``: after a whole play of the announcement at least, the person
    speaks from the middle of the next play to a second after its end, with no music between."""
    from harness.holds import hold

    rng = np.random.default_rng(12)
    for _ in range(4):
        made = hold(
            rng,
            person=True,
            music=CI_MUSIC,
            announcers=[by_name("espeak-ng-en")],
            people=CI_VOICES,
            cuts_in=True,
        )
        assert made.person_at is not None
        assert made.announcements == len(made.announced_at) >= 2
        cut_play, length = made.announced_at[-1], made.announcement_seconds
        assert cut_play + 0.5 * length <= made.person_at <= cut_play + length + 1.0 + 1.5
        assert made.where(cut_play + 0.1).startswith(f"announcement {made.announcements} +0.1 s")


class _ReportsAt:
    """A stand-in monitor that reports a person at fixed times of the hold (the accounting's test)."""

    def __init__(self, times: list[float]) -> None:
        self.times = times
        self.heard = 0.0
        self.events: list[MonitorEvent] = []
        self.trail: list[tuple[float, str]] = []

    def push_block(self, block: npt.NDArray[np.float64]) -> None:
        end = self.heard + len(block) * 160 / RATE
        for time in self.times:
            if self.heard <= time < end:
                self.events.append(MonitorEvent(time, EventKind.HUMAN_DETECTED, 0.9))
                self.trail.append((time, "new_voice"))
        self.heard = end


def test_hold_scores_count_false_alarms_misses_and_latency_by_group() -> None:
    """harness/holds.py's score_holds: a report more than 1 s before the person is false, the
    first one after is the latency; holds with nobody count every report; where() names what
    played."""
    from harness.holds import score_holds

    announcers = [by_name("espeak-ng-en")]
    early = score_holds(
        5, 3, music=CI_MUSIC, announcers=announcers, people=CI_VOICES, monitor=lambda: _ReportsAt([2.0])
    )
    people = early.people
    assert len(people) == 4  # every fifth hold has nobody
    assert early.false_alarms == 5  # 2 s in: before anyone came
    assert len(early.missed) == 4
    assert 0 < early.hold_seconds <= early.audio_seconds
    assert early.outcomes[0].why(2.0) == "new_voice"
    made = people[0].hold
    assert made.person_at is not None
    assert made.where(made.person_at + 0.5).startswith("person +0.5")
    announced = next(outcome.hold for outcome in people if outcome.hold.announced_at)
    assert announced.where(announced.announced_at[0] + 1.0).startswith("announcement 1 +1.0 s")
    assert made.where(1.0) == "music"
    # The same holds again (the same seed), each person reported 0.7 s after their first word.
    times = iter(
        [
            [outcome.hold.person_at + 0.7] if outcome.hold.person_at is not None else []
            for outcome in early.outcomes
        ]
    )
    on_time = score_holds(
        5, 3, music=CI_MUSIC, announcers=announcers, people=CI_VOICES, monitor=lambda: _ReportsAt(next(times))
    )
    assert on_time.false_alarms == 0
    assert not on_time.missed
    found = on_time.latencies(after_announcement=True) + on_time.latencies(after_announcement=False)
    assert found == pytest.approx([0.7] * 4)
