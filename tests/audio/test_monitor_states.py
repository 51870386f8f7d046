"""The hold monitor's state machine driven by a scripted label stream.

The labels are scripted so that every transition is reached on purpose; the same transitions
happen with the real classifier on corpus holds in test_monitor.py and bench/audio.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.audio.classifier import STEP_FRAMES, Decision, Label
from custom_components.hold_slayer.audio.features import MEL_BANDS, log_mel
from custom_components.hold_slayer.audio.monitor import (
    TRANSITIONS,
    TUNING,
    EventKind,
    HoldMonitor,
    MonitorEvent,
    State,
    Trigger,
    Tuning,
)
from custom_components.hold_slayer.audio.tones import FRAME
from harness import corpus
from harness.channel import Channel, through_channel

Floats = npt.NDArray[np.float64]
STEP = STEP_FRAMES * FRAME / 8000


Scripted = Label | tuple[Label, float]  # a label, sure of it; or with its speech probability


class ScriptedClassifier:
    """Returns the next scripted label for every 100 ms of audio."""

    def __init__(self, labels: list[Scripted]) -> None:
        self.labels = labels
        self.frames = 0
        self.mel: Floats = np.zeros((0, MEL_BANDS))

    def push_block(self, block: Floats) -> list[Decision]:
        self.mel = log_mel(block)  # what the real classifier hands on: the block's spectrogram
        decisions = []
        for _ in range(len(block)):
            self.frames += 1
            if self.frames % STEP_FRAMES == 0:
                entry = self.labels[min(self.frames // STEP_FRAMES - 1, len(self.labels) - 1)]
                label, speech = entry if isinstance(entry, tuple) else (entry, None)
                probabilities = (
                    {label: 1.0} if speech is None else {label: 1.0 - speech, Label.SPEECH: speech}
                )
                decisions.append(Decision(self.frames * FRAME / 8000, label, 1.0, probabilities))
        return decisions


def _seconds(label: Label, seconds: float, speech: float | None = None) -> list[Scripted]:
    return [label if speech is None else (label, speech)] * round(seconds / STEP)


def test_every_transition() -> None:
    """Flicker, announcement learned, the same announcement again, talk over music, a person
    who turns out to be hold music, and the person for real."""
    announcement = corpus._normalise(np.concatenate(corpus.prompts("test")[:3]), -20)[: 3 * 8000]
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 60)
    script = (
        _seconds(Label.MUSIC, 6)  # hold starts
        + _seconds(Label.SPEECH, 0.3)
        + _seconds(Label.MUSIC, 1.5)  # a flicker: ignored
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.MUSIC, 1.5)  # an announcement, learned
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 1.5)  # the same one: matched, ends
        + _seconds(Label.SPEECH, 0.5)
        + _seconds(Label.SPEECH_OVER_MUSIC, 2)
        + _seconds(Label.MUSIC, 1.5)
        + _seconds(Label.SPEECH, 1.5)
        + _seconds(Label.SILENCE, 1.5)  # "a person" (new audio)
        + _seconds(Label.MUSIC, 4)  # ... but the music comes back: hold again, voice learned
    )
    audio_parts = [
        music[: 8000 * 6],
        music[: int(8000 * 1.8)],
        announcement,
        music[: int(8000 * 1.5)],
        announcement,
    ]
    audio_parts += [
        np.zeros(int(8000 * 1.5)),
        music[: 8000 * 4],
        np.random.default_rng(2).normal(0, 0.1, 8000 * 3),
    ]
    audio_parts += [np.zeros(8000 * 5)]
    audio = np.concatenate(audio_parts)
    monitor = HoldMonitor(classifier=ScriptedClassifier(script))  # type: ignore[arg-type]
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    for start in range(0, len(frames), 50):
        monitor.push_block(frames[start : start + 50])
    kinds = [event.kind for event in monitor.events]
    assert kinds[0] is EventKind.HOLD_STARTED
    assert kinds.count(EventKind.ANNOUNCEMENT) >= 2
    assert EventKind.HUMAN_DETECTED in kinds
    assert kinds[-1] is EventKind.HOLD_STARTED  # the music came back after the "person"
    assert monitor.on_hold
    assert [trigger for _, trigger in monitor.trail] == EVERY_TRANSITION_TRAIL


EVERY_TRANSITION_TRAIL = [
    Trigger.CALM,
    Trigger.VOICE,
    Trigger.FLICKER,
    Trigger.VOICE,
    Trigger.MUSIC_BACK,  # learned
    Trigger.VOICE,
    Trigger.KNOWN,
    Trigger.KNOWN_ENDED,
    Trigger.VOICE,
    Trigger.FLICKER,  # half a second of speech, then the voice over music
    Trigger.VOICE,
    Trigger.REPLY_PAUSE,  # after the voice over music: judged the slow way
    Trigger.MUSIC_STAYED,
]
REST_OF_THE_TABLE = [
    Trigger.OVER_MUSIC_ENDED,
    Trigger.NEW_VOICE,
    Trigger.PERSON_STAYED,
    Trigger.VETO,
    Trigger.MUSIC_STOPPED,  # test_the_music_stopping_for_a_doubted_voice_is_a_person
    Trigger.RAN_ON,  # test_a_voice_taking_over_from_a_known_announcement_is_a_new_voice
    Trigger.OTHER_VOICE,  # test_a_first_voice_unlike_the_menus_is_a_person_after_a_little_speech
]


def test_the_table_has_one_row_per_trigger_and_the_tests_take_every_row() -> None:
    assert len({row.trigger for row in TRANSITIONS}) == len(TRANSITIONS) == len(Trigger)
    assert {row.source for row in TRANSITIONS} | {row.target for row in TRANSITIONS} == set(State)
    assert set(EVERY_TRANSITION_TRAIL) | set(REST_OF_THE_TABLE) == set(Trigger)


def test_the_rest_of_the_table() -> None:
    """An announcement over the music, a new voice once the loop is known, the person staying
    (the hold is over, reported once) and a transcript's veto (holding again, no event)."""
    music = np.random.default_rng(6).normal(0, 0.01, 8000 * 40)
    loop_script, loop_audio = _hold_with_loop()
    script = (
        loop_script
        + _seconds(Label.SPEECH_OVER_MUSIC, 3)
        + _seconds(Label.MUSIC, 5)  # past the gap in which a voice may continue the announcement
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 6)
    )
    audio = [
        *loop_audio,
        _voice(5, 3) + music[: 8000 * 3],
        music[: 8000 * 5],
        _voice(1, 3),
        np.zeros(8000 * 6),
    ]
    monitor = _drive(script, np.concatenate(audio))
    trail = [trigger for _, trigger in monitor.trail]
    assert trail[-4:] == [Trigger.OVER_MUSIC_ENDED, Trigger.VOICE, Trigger.NEW_VOICE, Trigger.PERSON_STAYED]
    assert [event.kind for event in monitor.events].count(EventKind.HOLD_ENDED) == 1
    assert monitor.state is State.HUMAN
    events = len(monitor.events)
    monitor.review(human=False)
    assert monitor.trail[-1][1] is Trigger.VETO
    assert monitor.on_hold
    assert len(monitor.events) == events


def _drive(script: list[Scripted], audio: Floats, tuning: Tuning = TUNING) -> HoldMonitor:
    monitor = HoldMonitor(classifier=ScriptedClassifier(script), tuning=tuning)  # type: ignore[arg-type]
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    for start in range(0, len(frames), 50):
        monitor.push_block(frames[start : start + 50])
    return monitor


def _voice(seed: int, seconds: float) -> Floats:
    """Audio no announcement matches: a real person of the corpus."""
    person = corpus._normalise(np.concatenate(corpus.human_speech("test")), -20)
    start = seed * 8000
    return person[start : start + round(seconds * 8000)]


def _hold_with_loop() -> tuple[list[Scripted], list[Floats]]:
    """Music, then one announcement (learned) and music again: the loop is known."""
    announcement = corpus._normalise(np.concatenate(corpus.prompts("test")[:3]), -20)[: 3 * 8000]
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 8)
    script = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH, 3) + _seconds(Label.MUSIC, 8)
    return script, [music[: 8000 * 6], announcement, music]


def test_a_new_voice_is_reported_within_a_second_once_the_loop_is_known() -> None:
    """After a learned announcement, clear speech that matches nothing: human_detected <= 1 s."""
    script, audio = _hold_with_loop()
    voice_at = sum(len(part) for part in audio) / 8000
    script += _seconds(Label.SPEECH, 3) + _seconds(Label.SILENCE, 2)
    monitor = _drive(script, np.concatenate([*audio, _voice(1, 3), np.zeros(8000 * 2)]))
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert 0.5 <= humans[0].time - voice_at <= 1.0


def test_a_flicker_then_quiet_does_not_hold_the_next_voice() -> None:
    """Half a second the model called speech, then 2.5 s of the line's noise: that was no
    voice, and the person after it is judged afresh (reported fast, from their first word)."""
    script, audio = _hold_with_loop()
    flicker_at = sum(len(part) for part in audio) / 8000
    voice_at = flicker_at + 3
    script += (
        _seconds(Label.SPEECH, 0.5)
        + _seconds(Label.NOISE, 2.5)
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 2)
    )
    noise = np.random.default_rng(3).normal(0, 0.003, 8000 * 3)
    monitor = _drive(script, np.concatenate([*audio, noise, _voice(1, 3), np.zeros(8000 * 2)]))
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert humans[0].time - voice_at <= 1.0
    assert humans[0].began >= voice_at - 0.5


def test_a_passage_of_music_misread_again_is_no_person() -> None:
    """Hold music the model calls speech for 0.5 s, then music: a flicker, remembered. When the
    music comes round and the model misreads the same passage for longer, it replays what was
    heard and is no person; a new voice after it still is one, within a second."""
    script, audio = _hold_with_loop()
    passage = _voice(4, 2)  # any sound the model calls speech: heard once, then again
    music = np.random.default_rng(9).normal(0, 0.01, 8000 * 4)
    script += (
        _seconds(Label.SPEECH, 0.5)
        + _seconds(Label.MUSIC, 3.5)  # the flicker, and music
        + _seconds(Label.SPEECH, 2)
        + _seconds(Label.MUSIC, 4)  # the same passage, misread for longer
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 2)  # a person
    )
    voice_at = sum(len(part) for part in audio) / 8000 + 10
    monitor = _drive(
        script,
        np.concatenate(
            [*audio, passage[:4000], music[: 8000 * 3 + 4000], passage, music, _voice(1, 3), np.zeros(16000)]
        ),
    )
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert 0.5 <= humans[0].time - voice_at <= 1.0


def test_a_snippet_matched_as_the_announcement_ends_when_the_music_is_back() -> None:
    """0.9 s the model calls speech that matches the known loop (hold music in front of its
    reference, say), then 0.3 s of music: over. A person speaking right after is judged afresh
    and reported within a second; before, they joined the matched snippet and were never reported."""
    script, audio = _hold_with_loop()
    snippet = audio[1][: int(8000 * 0.9)]  # the announcement's first words: they match
    music = np.random.default_rng(9).normal(0, 0.01, int(8000 * 0.3))
    voice_at = sum(len(part) for part in audio) / 8000 + 1.2
    script += (
        _seconds(Label.SPEECH, 0.9)
        + _seconds(Label.MUSIC, 0.3)
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 2)
    )
    monitor = _drive(script, np.concatenate([*audio, snippet, music, _voice(1, 3), np.zeros(16000)]))
    kinds = [event.kind for event in monitor.events]
    assert kinds.count(EventKind.ANNOUNCEMENT) == 2  # the loop, then the snippet recognised
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert 0.5 <= humans[0].time - voice_at <= 1.0


@pytest.mark.parametrize(("tail", "within"), [(0.4, 1.1), (0.9, 1.6)])
def test_a_voice_heard_over_music_in_its_window_tail_stays_on_the_fast_path(
    tail: float, within: float
) -> None:
    """A loud, clipped voice: half a second of speech, then up to 0.9 s the model hears as a
    voice over music, then speech again. The "over music" came within a second of the speech
    (the voice in the window, not music), so for the fast path it neither counts as music in the
    voice, nor makes it an announcement over music, nor a voice the model doubts (counted as
    music: 5.5 and 6.0 s; as doubt: 1.3 and 1.8 s)."""
    script, audio = _hold_with_loop()
    voice_at = sum(len(part) for part in audio) / 8000
    script += (
        _seconds(Label.SPEECH, 0.5)
        + _seconds(Label.SPEECH_OVER_MUSIC, tail)
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 2)
    )
    monitor = _drive(script, np.concatenate([*audio, _voice(1, 3.5 + tail), np.zeros(8000 * 2)]))
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert humans[0].time - voice_at <= within


def test_before_the_loop_is_known_a_window_tail_over_music_still_counts() -> None:
    """With no loop learned, the slow path judges: speech that was a third "over music", even in
    its window tail, waits for 2 s of quiet, not a 1.2 s reply pause (a first announcement whose
    candidate opened on misread music would otherwise pass for a greeting)."""
    script = (
        _seconds(Label.MUSIC, 6)
        + _seconds(Label.SPEECH, 0.5)
        + _seconds(Label.SPEECH_OVER_MUSIC, 0.9)
        + _seconds(Label.SPEECH, 0.4)
        + _seconds(Label.SPEECH_OVER_MUSIC, 0.5)
        + _seconds(Label.SILENCE, 4)
    )
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 6)
    monitor = _drive(script, np.concatenate([music, _voice(1, 2.3), np.zeros(8000 * 4)]))
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    speech_end = 6 + 1.8
    assert humans[0].time - speech_end >= TUNING.quiet_after_over_music - 0.05


def test_a_voice_after_voice_over_music_needs_more_speech() -> None:
    """Speech over music turning clear is likely more announcement: 1.2 s of speech, not 0.6."""
    script, audio = _hold_with_loop()
    voice_at = sum(len(part) for part in audio) / 8000 + 2
    script += _seconds(Label.SPEECH_OVER_MUSIC, 2) + _seconds(Label.SPEECH, 3) + _seconds(Label.SILENCE, 2)
    monitor = _drive(script, np.concatenate([*audio, _voice(2, 5), np.zeros(8000 * 2)]))
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert 1.1 <= humans[0].time - voice_at <= 1.6


def test_a_voice_after_the_music_played_alone_again_is_no_continuation() -> None:
    """A voice over music that ended a second ago (music alone since): a clear voice now is
    judged like any new voice, after 0.6 s of speech."""
    script, audio = _hold_with_loop()
    voice_at = sum(len(part) for part in audio) / 8000 + 1.6
    script += (
        _seconds(Label.SPEECH_OVER_MUSIC, 0.5)
        + _seconds(Label.MUSIC, 1.1)
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 2)
    )
    music = np.random.default_rng(9).normal(0, 0.01, round(8000 * 1.6))
    monitor = _drive(script, np.concatenate([*audio, music, _voice(2, 3), np.zeros(8000 * 2)]))
    humans = _humans(monitor)
    assert len(humans) == 1
    assert 0.5 <= humans[0] - voice_at <= 1.0


def test_long_speech_before_any_announcement_needs_a_longer_pause() -> None:
    """Nothing learned: 3 s of speech then silence is a person only after 1.6 s of pause."""
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 6)
    script = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH, 3) + _seconds(Label.SILENCE, 3)
    monitor = _drive(script, np.concatenate([music, _voice(3, 3), np.zeros(8000 * 3)]))
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert 9 + 1.5 <= humans[0].time <= 9 + 1.8
    assert (humans[0].time, Trigger.REPLY_PAUSE) in monitor.trail


def test_music_after_the_hold_ended_restarts_the_hold() -> None:
    """A person, the hold over — then music for 3 s: on hold again (they put us back on hold)."""
    script, audio = _hold_with_loop()
    script += _seconds(Label.SPEECH, 5) + _seconds(Label.MUSIC, 4)
    music = np.random.default_rng(3).normal(0, 0.01, 8000 * 4)
    monitor = _drive(script, np.concatenate([*audio, _voice(4, 5), music]))
    kinds = [event.kind for event in monitor.events]
    assert kinds[-3:] == [EventKind.HUMAN_DETECTED, EventKind.HOLD_ENDED, EventKind.HOLD_STARTED]
    assert monitor.on_hold


def _humans(monitor: HoldMonitor) -> list[float]:
    return [event.time for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]


def test_mostly_music_starts_the_hold() -> None:
    """Music the classifier calls speech for a second at a time still starts the hold; an IVR
    prompt with long pauses (calm, but no music) does not."""
    music = np.random.default_rng(5).normal(0, 0.01, 8000 * 12)
    flickering = (_seconds(Label.MUSIC, 2) + _seconds(Label.SPEECH, 0.8)) * 4
    monitor = _drive(flickering, music)
    starts = [event for event in monitor.events if event.kind is EventKind.HOLD_STARTED]
    assert len(starts) == 1
    assert 5.0 <= starts[0].time <= 6.5
    prompts = (_seconds(Label.SPEECH, 0.8) + _seconds(Label.SILENCE, 3)) * 3
    assert not _drive(prompts, music).events


def test_an_unsure_voice_is_not_a_person_on_the_fast_path() -> None:
    """Hold music the model half takes for speech (P 0.6) is no new voice; the same at 1.0 is."""
    script, audio = _hold_with_loop()
    unsure = script + _seconds(Label.SPEECH, 1.2, speech=0.6) + _seconds(Label.MUSIC, 4)
    voice = np.concatenate([*audio, _voice(1, 1.2), np.zeros(8000 * 4)])
    assert not _humans(_drive(unsure, voice))
    sure = script + _seconds(Label.SPEECH, 1.2, speech=1.0) + _seconds(Label.MUSIC, 4)
    assert _humans(_drive(sure, voice))


def test_the_slow_path_wants_a_voice_too() -> None:
    """Nothing learned: "speech" the model is unsure of (P 0.3), then quiet, is no greeting."""
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 6)
    audio = np.concatenate([music, _voice(3, 2), np.zeros(8000 * 3)])
    unsure = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH, 2, speech=0.3) + _seconds(Label.SILENCE, 3)
    assert not _humans(_drive(unsure, audio))
    sure = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH, 2, speech=0.9) + _seconds(Label.SILENCE, 3)
    assert _humans(_drive(sure, audio))


def test_a_voice_leaving_the_window_is_a_pause_not_music() -> None:
    """After a greeting the 1 s window hears "speech over music" while the voice leaves it:
    that is the reply pause beginning, not the music back."""
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 6)
    audio = np.concatenate([music, _voice(5, 2), np.zeros(8000 * 3)])
    script = (
        _seconds(Label.MUSIC, 6)
        + _seconds(Label.SPEECH, 2)
        + _seconds(Label.SPEECH_OVER_MUSIC, 1.0)
        + _seconds(Label.SILENCE, 2)
    )
    humans = _humans(_drive(script, audio))
    assert len(humans) == 1
    assert humans[0] <= 6 + 2 + 1.0 + 0.4


def test_an_announcement_over_the_music_is_learned_when_it_repeats() -> None:
    """A voice over the hold music for 3 s, then the music alone: an announcement. The second
    time the same voice plays (over other music) it joins the known loop; a different voice
    over music, or 1 s of one (a flicker), does not."""
    music = np.random.default_rng(6).normal(0, 0.01, 8000 * 40)
    voice = _voice(5, 3)
    parts = [music[: 8000 * 6], voice + music[8000 * 6 : 8000 * 9], music[8000 * 9 : 8000 * 14]]
    once = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH_OVER_MUSIC, 3) + _seconds(Label.MUSIC, 5)
    monitor = _drive(once, np.concatenate(parts))
    announcements = [event for event in monitor.events if event.kind is EventKind.ANNOUNCEMENT]
    assert len(announcements) == 1
    assert 5.5 <= (announcements[0].onset or 0) <= 6.0
    assert not monitor.announcements  # heard once: maybe music misread, not the loop yet
    again = [voice + music[8000 * 20 : 8000 * 23], music[8000 * 23 : 8000 * 28]]
    twice = once + _seconds(Label.SPEECH_OVER_MUSIC, 3) + _seconds(Label.MUSIC, 5)
    monitor = _drive(twice, np.concatenate([*parts, *again]))
    assert len([e for e in monitor.events if e.kind is EventKind.ANNOUNCEMENT]) == 2
    assert len(monitor.announcements) == 1
    other = [_voice(9, 3) + music[8000 * 20 : 8000 * 23], music[8000 * 23 : 8000 * 28]]
    assert not _drive(twice, np.concatenate([*parts, *other])).announcements
    flicker = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH_OVER_MUSIC, 1) + _seconds(Label.MUSIC, 7)
    monitor = _drive(flicker, music)
    assert [event.kind for event in monitor.events] == [EventKind.HOLD_STARTED]


def test_a_word_of_clear_speech_inside_a_voice_over_music_is_part_of_it() -> None:
    """The model names one step of an announcement over the music clear speech: that opens a
    candidate, which closes as a flicker when the music is alone again; the voice around it is
    still the announcement, reported each time and learned when it repeats (before, the flicker
    dropped it: nothing reported, nothing learned)."""
    music = np.random.default_rng(6).normal(0, 0.01, 8000 * 40)
    voice = _voice(5, 3)
    played = (
        _seconds(Label.SPEECH_OVER_MUSIC, 2)
        + _seconds(Label.SPEECH, 0.1)
        + _seconds(Label.SPEECH_OVER_MUSIC, 0.9)
        + _seconds(Label.MUSIC, 5)
    )
    script = _seconds(Label.MUSIC, 6) + played + played
    parts = [
        music[: 8000 * 6],
        voice + music[8000 * 6 : 8000 * 9],
        music[8000 * 9 : 8000 * 14],
        voice + music[8000 * 20 : 8000 * 23],
        music[8000 * 23 : 8000 * 28],
    ]
    monitor = _drive(script, np.concatenate(parts))
    announcements = [event for event in monitor.events if event.kind is EventKind.ANNOUNCEMENT]
    assert len(announcements) == 2
    assert 5.5 <= (announcements[0].onset or 0) <= 6.0
    assert len(monitor.announcements) == 1
    # Quiet after the flicker, then the music: no announcement (a person on a noisy line, maybe,
    # but the music came back).
    quiet = _seconds(Label.MUSIC, 6) + played[:30] + _seconds(Label.SILENCE, 2.5) + _seconds(Label.MUSIC, 5)
    monitor = _drive(quiet, np.concatenate(parts))
    assert [event.kind for event in monitor.events] == [EventKind.HOLD_STARTED]


def test_the_music_stopping_for_a_doubted_voice_is_a_person() -> None:
    """A person the model hears as a voice over the music, with a word of clear speech: no
    candidate gets far. The music does not come back and the line stays quiet: after
    ``music_stopped_wait`` that is someone waiting for a reply, reported from the voice's start.
    Not when the music comes back in time (an announcement's pause), and not on a hold that had
    no music before the voice (a silent hold's flicker)."""
    music = np.random.default_rng(6).normal(0, 0.01, 8000 * 40)
    voice = _voice(5, 3)
    doubted = (
        _seconds(Label.SPEECH_OVER_MUSIC, 2)
        + _seconds(Label.SPEECH, 0.2)
        + _seconds(Label.SPEECH_OVER_MUSIC, 0.8)
    )
    audio = np.concatenate([music[: 8000 * 6], voice, np.zeros(8000 * 8)])
    waits = _drive(_seconds(Label.MUSIC, 6) + doubted + _seconds(Label.NOISE, 8), audio)
    humans = [event for event in waits.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert Trigger.MUSIC_STOPPED in [trigger for _, trigger in waits.trail]
    assert 9.0 + TUNING.music_stopped_wait - 0.15 <= humans[0].time <= 9.0 + TUNING.music_stopped_wait + 0.15
    assert 5.5 <= (humans[0].onset or 0) <= 6.0
    pause = _seconds(Label.MUSIC, 6) + doubted + _seconds(Label.NOISE, 2) + _seconds(Label.MUSIC, 6)
    assert not _humans(_drive(pause, audio))
    silent = _seconds(Label.NOISE, 6) + doubted + _seconds(Label.NOISE, 8)
    assert Trigger.MUSIC_STOPPED not in [trigger for _, trigger in _drive(silent, audio).trail]


def test_speech_with_hold_music_inside_is_not_learned_as_the_loop() -> None:
    """Music the model calls speech, with music decisions inside or for only a second, ends as
    an "announcement" but is not learned; a real announcement (speech, then the music back) is."""
    music = np.random.default_rng(7).normal(0, 0.01, 8000 * 30)
    misread = (
        _seconds(Label.SPEECH, 1)
        + _seconds(Label.MUSIC, 0.5)  # the music heard in between: this was no voice
        + _seconds(Label.SPEECH, 1)
    )
    script = _seconds(Label.MUSIC, 6) + misread + _seconds(Label.MUSIC, 5)
    monitor = _drive(script, music[: 8000 * 14])
    assert EventKind.ANNOUNCEMENT in [event.kind for event in monitor.events]
    assert not monitor.announcements
    short = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH, 1.0) + _seconds(Label.MUSIC, 5)
    monitor = _drive(short, music[: 8000 * 12])
    assert EventKind.ANNOUNCEMENT in [event.kind for event in monitor.events]
    assert not monitor.announcements  # a second of "speech" between music: no sentence
    clean = _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH, 2.5) + _seconds(Label.MUSIC, 5)
    audio = np.concatenate([music[: 8000 * 6], _voice(6, 2.5), music[: 8000 * 5]])
    assert len(_drive(clean, audio).announcements) == 1


def test_exactly_music_back_of_music_ends_an_announcement() -> None:
    """Ten decisions of music are the rule's second: the announcement before them ends there and
    is learned, though the model takes the music after them for speech again (a sum of ten
    0.1 s steps in floating point is 0.999…, which had waited for an eleventh)."""
    music = np.random.default_rng(8).normal(0, 0.01, 8000 * 30)
    back = _seconds(Label.MUSIC, TUNING.music_back)
    assert len(back) == 10
    script = (
        _seconds(Label.MUSIC, 6)
        + _seconds(Label.SPEECH, 2.5)
        + back
        + _seconds(Label.SPEECH, 1.0)  # the music misread once more
        + _seconds(Label.MUSIC, 5)
    )
    audio = np.concatenate([music[: 8000 * 6], _voice(6, 2.5), music[: 8000 * 7]])
    monitor = _drive(script, audio)
    ended = [time for time, trigger in monitor.trail if trigger is Trigger.MUSIC_BACK]
    assert ended[0] == pytest.approx(6 + 2.5 + TUNING.music_back, abs=0.05)
    assert len(monitor.announcements) == 1


def test_a_voice_heard_over_music_then_quiet_is_a_person() -> None:
    """A person the model hears mostly as a voice over music: no music comes back, 2 s of
    quiet follow — a greeting awaiting a reply. Music coming back instead keeps it an
    announcement."""
    music = np.random.default_rng(8).normal(0, 0.01, 8000 * 6)
    voice = _voice(7, 3.3)
    heard = (
        _seconds(Label.SPEECH, 0.3, speech=0.9)
        + _seconds(Label.SPEECH_OVER_MUSIC, 0.9)
        + _seconds(Label.SPEECH, 0.3, speech=0.9)
        + _seconds(Label.SPEECH_OVER_MUSIC, 0.9)
        + _seconds(Label.SPEECH, 0.5, speech=0.9)
        + _seconds(Label.SPEECH_OVER_MUSIC, 0.4)  # the voice leaving the window: a pause
    )
    quiet = _seconds(Label.MUSIC, 6) + heard + _seconds(Label.SILENCE, 3)
    humans = _humans(_drive(quiet, np.concatenate([music, voice, np.zeros(8000 * 3)])))
    assert len(humans) == 1
    assert 9.3 + 1.5 <= humans[0] <= 9.3 + 1.9  # 2 s of pause: 0.4 s tail, 1.6 s of quiet
    back = _seconds(Label.MUSIC, 6) + heard + _seconds(Label.MUSIC, 3)
    assert not _humans(_drive(back, np.concatenate([music, voice, music[: 8000 * 3]])))


def test_a_known_announcement_named_speech_only_once_is_not_learned_empty() -> None:
    """The loop's announcement again, but the model named it speech for a single decision:
    it is recognised (no person) and its end learns nothing rather than a reference of 0.1 s
    of speech, which no 0.6 s probe stretch could match."""
    script, audio = _hold_with_loop()
    repeat = audio[1]  # the announcement the loop taught
    script += _seconds(Label.SPEECH, 0.1) + _seconds(Label.SILENCE, 4)
    monitor = _drive(script, np.concatenate([*audio, repeat, np.zeros(8000 * 2)]))
    assert not _humans(monitor)
    assert monitor.on_hold
    assert len(monitor.announcements) == 1


def test_an_announcement_named_speech_sooner_on_its_repeat_is_still_recognised() -> None:
    """The model named the first play speech 0.6 s after it began, the repeat at once: the
    reference must still hold the repeat's first words, or the repeat is a "new voice"."""
    announcement = corpus._normalise(np.concatenate(corpus.prompts("test")[:3]), -20)[: 4 * 8000]
    music = np.random.default_rng(1).normal(0, 0.01, 8000 * 8)
    script = (
        _seconds(Label.MUSIC, 6.6)  # the first play, heard late
        + _seconds(Label.SPEECH, 3.4)
        + _seconds(Label.MUSIC, 8)
        + _seconds(Label.SPEECH, 4)  # the repeat, heard at once
        + _seconds(Label.MUSIC, 4)
    )
    audio = np.concatenate([music[: 8000 * 6], announcement, music, announcement, music[: 8000 * 4]])
    monitor = _drive(script, audio)
    assert not _humans(monitor)
    assert monitor.events[-1].kind is not EventKind.HUMAN_DETECTED


def test_an_event_began_at_its_onset_or_when_it_was_known() -> None:
    """``began``: the person's first word where the monitor knows it, else the event's time."""
    assert MonitorEvent(5.0, EventKind.HUMAN_DETECTED, onset=4.2).began == 4.2
    assert MonitorEvent(5.0, EventKind.HOLD_ENDED).began == 5.0


def test_a_replay_whose_landmarks_do_not_match_is_known_by_its_spectrogram() -> None:
    """The loop's announcement again, with landmark matching switched off (as a lossy line or a
    codec can make it fail): its spectrogram lines up with the first play, so it is no new voice.
    Without the spectrogram check it would be reported; a real new voice still is."""
    blind = Tuning(match_threshold=2.0, similar_threshold=2.0, replay_aligned=2.0)
    script, audio = _hold_with_loop()
    announcement = audio[1]
    script += _seconds(Label.SPEECH, 3) + _seconds(Label.MUSIC, 2)

    def humans(tuning: Tuning, voice: Floats) -> int:
        monitor = HoldMonitor(classifier=ScriptedClassifier(script), tuning=tuning)  # type: ignore[arg-type]
        signal = np.concatenate([*audio, voice, audio[2][: 8000 * 2]])
        frames = signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME)
        for start in range(0, len(frames), 50):
            monitor.push_block(frames[start : start + 50])
        return [event.kind for event in monitor.events].count(EventKind.HUMAN_DETECTED)

    assert humans(blind, announcement) == 0
    # Without the spectrogram check, and the waveform's (test_a_replay_is_known_by_its_waveform):
    assert humans(replace(blind, envelope_likeness=1.01, replay_correlation=1.01), announcement) == 1
    assert humans(blind, _voice(1, 3)) == 1


def test_a_replay_is_known_by_its_waveform() -> None:
    """The loop's announcement again down a GSM line that loses packets, with the landmark and
    spectrogram checks off: its waveform is the first play's, so it is no new voice; without
    the waveform check it would be reported. A voice the hold never played still is one, and
    the slow path stays open to it."""
    blind = Tuning(
        match_threshold=2.0,
        similar_threshold=2.0,
        replay_aligned=2.0,
        envelope_likeness=1.01,
        doubt_likeness=1.01,
    )
    script, audio = _hold_with_loop()
    script += _seconds(Label.SPEECH, 3) + _seconds(Label.SILENCE, 2)
    line = Channel(codec="gsm", loss=0.03, concealment="repeat")

    def humans(tuning: Tuning, voice: Floats) -> int:
        signal = np.concatenate([*audio, voice, np.zeros(8000 * 2)])
        heard = through_channel(signal, line, np.random.default_rng(5)).astype(np.float64) / 32768
        monitor = _drive(script, heard, tuning)
        return [event.kind for event in monitor.events].count(EventKind.HUMAN_DETECTED)

    assert humans(blind, audio[1]) == 0
    assert humans(replace(blind, replay_correlation=1.01), audio[1]) == 1
    assert humans(blind, _voice(1, 3)) == 1


def test_a_replay_of_audio_never_taken_for_a_voice_is_known_from_the_hold() -> None:
    """What a person is never is audio the hold already played, segment or not: a passage the
    model first heard as music (never a candidate, never kept as a segment), heard as speech when
    it comes round again, lines up with the hold's spectrogram and is no new voice. Landmark
    matching is off, as a lossy line can make it fail. A voice the hold never played still is one."""
    blind = Tuning(match_threshold=2.0, similar_threshold=2.0, replay_aligned=2.0)
    script, audio = _hold_with_loop()
    passage = _voice(4, 3)  # sung, say: the model heard it as music the first time
    script += _seconds(Label.MUSIC, 3) + _seconds(Label.MUSIC, 6) + _seconds(Label.SPEECH, 3)
    script += _seconds(Label.MUSIC, 2)

    def humans(tuning: Tuning, again: Floats) -> int:
        monitor = HoldMonitor(classifier=ScriptedClassifier(script), tuning=tuning)  # type: ignore[arg-type]
        signal = np.concatenate([*audio[:2], audio[2][: 8000 * 8], passage, audio[2][: 8000 * 6], again])
        signal = np.concatenate([signal, audio[2][: 8000 * 2]])
        frames = signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME)
        for start in range(0, len(frames), 50):
            monitor.push_block(frames[start : start + 50])
        return [event.kind for event in monitor.events].count(EventKind.HUMAN_DETECTED)

    assert humans(blind, passage) == 0
    assert humans(replace(blind, history_seconds=0.1), passage) == 1  # the hold forgotten
    assert humans(blind, _voice(1, 3)) == 1


def test_a_known_announcement_needs_matches_that_do_not_overlap() -> None:
    """A person whose first half second happens to line up with the loop (adjacent 0.6 s
    stretches share most of their landmarks, so they are one match, not two) is no announcement;
    needing matches only 0.1 s apart, as before, took it for one."""
    script, audio = _hold_with_loop()
    announcement = audio[1]
    voice = np.concatenate([announcement[4000:8000], _voice(1, 3)])
    script += _seconds(Label.SPEECH, 3.5) + _seconds(Label.SILENCE, 3)
    signal = np.concatenate([*audio, voice, np.zeros(8000 * 3)])

    def trail(tuning: Tuning) -> list[Trigger]:
        monitor = HoldMonitor(classifier=ScriptedClassifier(script), tuning=tuning)  # type: ignore[arg-type]
        frames = signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME)
        for start in range(0, len(frames), 50):
            monitor.push_block(frames[start : start + 50])
        return [trigger for _, trigger in monitor.trail]

    assert Trigger.KNOWN not in trail(TUNING)
    assert Trigger.REPLY_PAUSE in trail(TUNING) or Trigger.NEW_VOICE in trail(TUNING)
    assert Trigger.KNOWN in trail(replace(TUNING, match_spread=1))


@pytest.mark.parametrize("cut_seconds", [1.0, 1.1, 1.2, 1.3, 1.4])
def test_a_voice_taking_over_is_found_whatever_the_phase_of_the_look(cut_seconds: float) -> None:
    """``ran_on`` looks every half second, so the split lands anywhere in the voice's first tenths:
    the voice is probed from the split on, and the announcement it cut off, just before, never
    makes it one more play of the loop (it then waited for the reply pause)."""
    script, audio = _hold_with_loop()
    cut_at = sum(len(part) for part in audio) / 8000 + cut_seconds
    monitor = _drive(
        script + _seconds(Label.SPEECH, cut_seconds + 3) + _seconds(Label.SILENCE, 3),
        np.concatenate([*audio, audio[1][: round(cut_seconds * 8000)], _voice(1, 3), np.zeros(8000 * 3)]),
    )
    assert [trigger for _, trigger in monitor.trail][-3:] == [
        Trigger.RAN_ON,
        Trigger.NEW_VOICE,
        Trigger.PERSON_STAYED,
    ]
    humans = [event.time for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert humans[0] - cut_at <= TUNING.run_on + 0.5 + STEP + 1e-9


def test_a_gap_between_the_words_of_a_voice_taking_over_is_no_pause() -> None:
    """An agent's "Thanks for holding, this is Sarah" has a gap at its comma, one decision of no
    voice: that is no pause where the recording ended, so the voice is split off and reported
    as soon as it speaks on. Counting the gap as a pause (``word_gap`` 0, as before) kept the
    agent in the announcement until they stopped talking (the demo line's agent, found 6-10 s
    after their first word)."""
    script, audio = _hold_with_loop()
    cut_at = sum(len(part) for part in audio) / 8000 + 1.5  # of its 3 s
    words = 0.5  # "Thanks for holding,"
    script += (
        _seconds(Label.SPEECH, 1.5 + words)
        + _seconds(Label.NOISE, STEP)
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 3)
    )
    voice = _voice(1, words + 3)
    signal = np.concatenate(
        [
            *audio,
            audio[1][:12000],
            voice[: round(words * 8000)],
            np.zeros(round(STEP * 8000)),
            voice[round(words * 8000) :],
            np.zeros(8000 * 3),
        ]
    )

    def found(tuning: Tuning) -> tuple[list[Trigger], float]:
        monitor = _drive(script, signal, tuning)
        humans = [event.time for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
        assert len(humans) == 1
        return [trigger for _, trigger in monitor.trail], humans[0] - cut_at

    trail, after = found(TUNING)
    assert Trigger.RAN_ON in trail
    assert after <= words + STEP + TUNING.run_on + 0.5 + STEP + 1e-9
    trail, after = found(replace(TUNING, word_gap=0.0))
    assert Trigger.RAN_ON not in trail
    assert after > 3.0


def test_a_voice_somewhat_like_the_hold_waits_for_more_of_itself() -> None:
    """A new voice whose spectrogram is as like the hold as ``doubt_likeness`` (and under the
    replay bar) is reported only after ``doubt_wait`` more speech; one less like it at once."""
    script, audio = _hold_with_loop()
    voice_at = sum(len(part) for part in audio) / 8000
    script += _seconds(Label.SPEECH, 3) + _seconds(Label.SILENCE, 2)
    signal = np.concatenate([*audio, _voice(1, 3), np.zeros(8000 * 2)])

    def reported(tuning: Tuning) -> float:
        monitor = _drive(script, signal, tuning)
        humans = [event.time for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
        assert len(humans) == 1
        return humans[0] - voice_at

    at_once = reported(replace(TUNING, doubt_likeness=1.01))
    in_doubt = reported(replace(TUNING, doubt_likeness=-1.0))
    assert at_once <= 1.0
    assert in_doubt - at_once == pytest.approx(TUNING.doubt_wait, abs=STEP + 1e-9)


def test_a_voice_taking_over_from_a_known_announcement_is_a_new_voice() -> None:
    """An agent who picks up cuts the announcement off (no music between them): once their
    latest speech matches nothing of the loop, they are judged on their own (``ran_on``) and
    reported on the fast path; the whole announcement again is no new voice."""
    script, audio = _hold_with_loop()
    announcement = audio[1]
    cut_at = sum(len(part) for part in audio) / 8000 + 2.0
    cut = script + _seconds(Label.SPEECH, 2 + 3) + _seconds(Label.SILENCE, 3)
    monitor = _drive(
        cut, np.concatenate([*audio, announcement[: 2 * 8000], _voice(1, 3), np.zeros(8000 * 3)])
    )
    trail = [trigger for _, trigger in monitor.trail]
    assert trail[-4:] == [Trigger.KNOWN, Trigger.RAN_ON, Trigger.NEW_VOICE, Trigger.PERSON_STAYED]
    humans = [event.time for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert humans[0] - cut_at <= TUNING.run_on + 0.6
    # Without the rule the agent waits for the reply pause.
    late = _drive(
        cut,
        np.concatenate([*audio, announcement[: 2 * 8000], _voice(1, 3), np.zeros(8000 * 3)]),
        replace(TUNING, run_on=30.0),
    )
    assert Trigger.RAN_ON not in [trigger for _, trigger in late.trail]
    # The announcement whole, then the music: known, and over.
    whole = script + _seconds(Label.SPEECH, 3) + _seconds(Label.MUSIC, 3)
    music = np.random.default_rng(3).normal(0, 0.01, 8000 * 3)
    again = _drive(whole, np.concatenate([*audio, announcement, music]))
    assert [trigger for _, trigger in again.trail][-3:] == [Trigger.VOICE, Trigger.KNOWN, Trigger.KNOWN_ENDED]


def _menu_then_hold() -> tuple[list[Scripted], list[Floats]]:
    """The company's menu (a voice talent's prompts, 6 s), then 8 s of hold music."""
    menu = corpus._normalise(np.concatenate(corpus.prompts("test")[40:46]), -20)[: 6 * 8000]
    music = np.random.default_rng(4).normal(0, 0.01, 8000 * 8)
    return _seconds(Label.SPEECH, 6) + _seconds(Label.MUSIC, 8), [menu, music]


def _person(seconds: float) -> Floats:
    """A real speaker of the corpus (its first is a speech synthesiser's)."""
    person = corpus._normalise(np.concatenate(corpus.human_speech("test")[1:3]), -20)
    return person[: round(seconds * 8000)]


def test_a_first_voice_unlike_the_menus_is_a_person_after_a_little_speech() -> None:
    """Nothing of the hold learned: a voice unlike the menu's is reported once it has spoken
    ``other_voice_evidence``, without waiting for a reply pause."""
    script, audio = _menu_then_hold()
    voice_at = sum(len(part) for part in audio) / 8000
    script += _seconds(Label.SPEECH, 3) + _seconds(Label.SILENCE, 3)
    monitor = _drive(script, np.concatenate([*audio, _person(3), np.zeros(8000 * 3)]))
    trail = [trigger for _, trigger in monitor.trail]
    assert trail == [Trigger.CALM, Trigger.VOICE, Trigger.OTHER_VOICE, Trigger.PERSON_STAYED]
    human = next(event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED)
    assert TUNING.other_voice_evidence - 1e-6 <= human.time - voice_at <= TUNING.other_voice_evidence + 0.5


def test_the_menus_voice_on_the_hold_is_an_announcement() -> None:
    """The first voice of the hold in the menu's voice (its other prompts) waits for the music."""
    script, audio = _menu_then_hold()
    announcement = corpus._normalise(np.concatenate(corpus.prompts("test")[50:54]), -20)[: 3 * 8000]
    script += _seconds(Label.SPEECH, 3) + _seconds(Label.MUSIC, 3)
    monitor = _drive(script, np.concatenate([*audio, announcement, audio[1][: 8000 * 3]]))
    assert [trigger for _, trigger in monitor.trail] == [Trigger.CALM, Trigger.VOICE, Trigger.MUSIC_BACK]


def test_before_the_menus_voice_is_announced_the_fast_path_asks_whose_voice() -> None:
    """A passage of music learned as the loop, then the hold's real first announcement: it
    matches nothing learned, but it is the menu's voice, so no person; once it is learned, a
    person is fast again."""
    script, audio = _menu_then_hold()
    misread = 3 * audio[1][: 8000 * 3]  # the hold's music again, which the model took for speech
    announcement = corpus._normalise(np.concatenate(corpus.prompts("test")[50:54]), -20)[: 3 * 8000]
    music = audio[1][: 8000 * 6]
    script += (
        _seconds(Label.SPEECH, 3)
        + _seconds(Label.MUSIC, 6)  # learned as the loop
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.MUSIC, 6)  # the real announcement: learned, in the menu's voice
        + _seconds(Label.SPEECH, 3)
        + _seconds(Label.SILENCE, 3)
    )
    person_at = sum(len(part) for part in audio) / 8000 + 18
    monitor = _drive(
        script, np.concatenate([*audio, misread, music, announcement, music, _person(3), np.zeros(8000 * 3)])
    )
    trail = [trigger for _, trigger in monitor.trail]
    assert trail == [
        Trigger.CALM,
        Trigger.VOICE,
        Trigger.MUSIC_BACK,
        Trigger.VOICE,
        Trigger.MUSIC_BACK,
        Trigger.VOICE,
        Trigger.NEW_VOICE,
        Trigger.PERSON_STAYED,
    ]
    human = next(event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED)
    assert human.time - person_at <= 1.0


def test_without_the_menu_the_fast_path_does_not_ask_whose_voice() -> None:
    """A hold heard from its music on (no menu): the first learned announcement guards as before."""
    script, audio = _hold_with_loop()
    voice_at = sum(len(part) for part in audio) / 8000
    # A synthesiser's voice, as like the announcement's as a company's own agent could be.
    script += _seconds(Label.SPEECH, 3) + _seconds(Label.SILENCE, 2)
    monitor = _drive(script, np.concatenate([*audio, _voice(1, 3), np.zeros(8000 * 2)]))
    when, trigger = monitor.trail[-2]
    assert trigger is Trigger.NEW_VOICE
    assert when - voice_at <= 1.0
