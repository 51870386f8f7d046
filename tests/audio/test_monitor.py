"""The hold monitor on whole generated holds: music, repeated announcements, then a person."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.audio.fingerprint import HOP, Fingerprint, StepPeaks
from custom_components.hold_slayer.audio.monitor import EventKind, HoldMonitor, MonitorEvent, Trigger
from custom_components.hold_slayer.audio.tones import FRAME
from harness import corpus
from harness.channel import Channel, through_channel

RATE = 8000
Floats = npt.NDArray[np.float64]


def _monitor(signal: Floats) -> HoldMonitor:
    monitor = HoldMonitor()
    frames = signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME)
    for start in range(0, len(frames), 250):
        monitor.push_block(frames[start : start + 250])
    return monitor


def _run(signal: Floats) -> list[MonitorEvent]:
    return _monitor(signal).events


FIRST_SPEAKERS = slice(0, 3)


def _hold(
    seed: int, *, announcements: int, human: bool, menu: bool = False, speakers: slice = FIRST_SPEAKERS
) -> tuple[Floats, float | None]:
    """Music, (announcement, music) x n, then maybe a person; the audio and when the person starts.

    ``menu``: the company's menu first, in the voice of its announcements (other prompts).
    ``speakers``: which of the corpus's speakers the person's talk is made of.
    """
    rng = np.random.default_rng(seed)
    track = corpus.music_tracks("test")[seed % 2]
    music = corpus._normalise(track, -22)
    prompts = corpus.prompts("test")
    picks = [prompts[int(i)] for i in rng.integers(0, len(prompts), 4)]
    announcement = corpus._normalise(
        np.concatenate([np.concatenate((p, np.zeros(1200))) for p in picks]), -20
    )
    parts: list[Floats] = [music[: 12 * RATE]]
    if menu:
        parts[:0] = [corpus._normalise(np.concatenate(prompts[60:66]), -20), np.zeros(RATE // 2)]
    position = 12 * RATE
    for _ in range(announcements):
        parts += [
            np.zeros(RATE // 2),
            announcement,
            np.zeros(RATE // 2),
            music[position : position + 15 * RATE],
        ]
        position += 15 * RATE
    start = None
    if human:
        start = sum(len(p) for p in parts) / RATE + 0.3
        person = corpus._normalise(np.concatenate(corpus.human_speech("test")[speakers]), -20)
        parts += [np.zeros(int(0.3 * RATE)), person, np.zeros(2 * RATE)]
    clean = np.concatenate(parts)
    channel = Channel(level_db=float(rng.uniform(-6, 6)), noise_db=-60.0, loss=0.01)
    return through_channel(clean, channel, rng), start


@pytest.mark.parametrize("seed", [1, 4, 10])
def test_person_after_repeated_announcements(seed: int) -> None:
    """One hold_started, announcements recognised, one human_detected within 2 s of the first word."""
    audio, person_at = _hold(seed, announcements=2, human=True)
    assert person_at is not None
    events = _run(audio)
    kinds = [event.kind for event in events]
    assert kinds.count(EventKind.HOLD_STARTED) == 1
    assert kinds.count(EventKind.ANNOUNCEMENT) >= 2
    humans = [event for event in events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert 0 < humans[0].time - person_at <= 1.3  # the fast path: the loop is known
    assert humans[0].onset is not None
    assert abs(humans[0].onset - person_at) <= 0.5
    assert EventKind.HOLD_ENDED in kinds


def test_person_before_any_announcement() -> None:
    """Nothing learned yet: a person is reported once they pause for a reply, music never back."""
    audio, person_at = _hold(5, announcements=0, human=True)
    assert person_at is not None
    humans = [event for event in _run(audio) if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert humans[0].onset is not None
    assert abs(humans[0].onset - person_at) <= 0.5
    # The speech ends 2 s before the audio does; the reply pause is 1.5 s of that.
    assert humans[0].time <= len(audio) / RATE


def test_a_first_voice_unlike_the_menus_is_found_in_three_seconds() -> None:
    """Nothing learned on the hold, but the menu's voice is known: a person is another voice.

    The people are real speakers (the corpus's first is a speech synthesiser's).
    """
    audio, person_at = _hold(5, announcements=0, human=True, menu=True, speakers=slice(1, 4))
    assert person_at is not None
    monitor = _monitor(audio)
    humans = [event for event in monitor.events if event.kind is EventKind.HUMAN_DETECTED]
    assert len(humans) == 1
    assert Trigger.OTHER_VOICE in [trigger for _, trigger in monitor.trail]
    assert 0 < humans[0].time - person_at <= 3.0


def test_announcements_in_the_menus_voice_are_never_a_person() -> None:
    """The first play of the announcement is no person: it is the voice the menu spoke in."""
    for seed in (2, 3, 11):
        audio, _ = _hold(seed, announcements=3, human=False, menu=True)
        assert EventKind.HUMAN_DETECTED not in [event.kind for event in _run(audio)]


def test_transcript_veto_learns_the_voice() -> None:
    """A vetoed person goes back to hold, and the same audio is an announcement next time."""
    audio, _ = _hold(5, announcements=0, human=True)
    monitor = HoldMonitor()
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    for start in range(0, len(frames), 250):
        monitor.push_block(frames[start : start + 250])
    assert not monitor.on_hold
    monitor.review(human=True)  # a confirmation changes nothing
    assert not monitor.on_hold
    monitor.review(human=False)
    assert monitor.on_hold
    assert len(monitor.announcements) == 1


def test_announcements_alone_are_never_a_person() -> None:
    """Several holds of announcement loops without a person raise no human_detected."""
    for seed in (2, 3, 11):
        audio, _ = _hold(seed, announcements=4, human=False)
        assert EventKind.HUMAN_DETECTED not in [event.kind for event in _run(audio)]


def test_fingerprints_survive_level_and_codec() -> None:
    """The same prompt at another level through A-law with loss matches; other speech does not."""
    rng = np.random.default_rng(0)
    prompts = corpus.prompts("test")
    first = corpus._normalise(np.concatenate(prompts[:3]), -20)
    reference = Fingerprint.of(first[: 4 * RATE])
    again = through_channel(first * 0.3, Channel(alaw=True, loss=0.02, noise_db=-55), rng)
    for offset in (0.5, 1.0137, 2.2011):  # wherever the probe starts, not on a 10 ms grid
        start = round(offset * RATE)
        assert reference.match(Fingerprint.of(again[start : start + RATE])) > 0.7
    for index in range(4):
        other = corpus._normalise(np.concatenate(prompts[10 + 3 * index : 13 + 3 * index]), -20)
        assert reference.match(Fingerprint.of(other[:RATE])) < 0.35
    for person in corpus.human_speech("test"):
        assert reference.match(Fingerprint.of(corpus._normalise(person, -20)[:RATE])) < 0.35
    assert reference.match(Fingerprint.of(np.zeros(RATE))) == 0.0


def test_kept_steps_give_the_fingerprints_of_the_audio() -> None:
    """Overlapping stretches fingerprinted through ``StepPeaks`` equal ``Fingerprint.of`` of them.

    A step's peaks are kept by its place in the call, so stretches that share steps (a probe
    every 0.1 s, the segment's reference) reuse them, loud or quiet, however the stretch's
    loudest row decides which rows keep their landmarks; a call longer than the cache wraps.
    """
    rng = np.random.default_rng(5)
    speech = corpus._normalise(np.concatenate(corpus.prompts("test")[:2]), -20)
    levels = np.repeat(rng.choice([1e-5, 0.05, 1.0, 4.0], size=len(speech) // 4000 + 1), 4000)
    call = speech * levels[: len(speech)]
    steps = StepPeaks(capacity=600)  # 6 s of steps: shorter than the call
    for _ in range(200):
        first = int(rng.integers(0, len(call) // FRAME - 300))
        frames = int(rng.integers(0, 300))
        stretch = call[first * FRAME : (first + frames) * FRAME]
        kept = steps.fingerprint(stretch, first * FRAME // HOP)
        direct = Fingerprint.of(stretch)
        assert np.array_equal(kept.hashes, direct.hashes)
        assert np.array_equal(kept.frames, direct.frames)


def test_frame_by_frame_equals_blocks() -> None:
    """``push`` one 20 ms frame at a time gives the events ``push_block`` gives."""
    audio, _ = _hold(3, announcements=1, human=True)
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    streaming = HoldMonitor()
    one_by_one = [event for frame in frames for event in streaming.push(frame)]
    assert [(e.kind, e.time) for e in one_by_one] == [(e.kind, e.time) for e in _run(audio)]
    assert EventKind.HUMAN_DETECTED in [event.kind for event in one_by_one]


def test_repeats_spoken_over_music_are_not_a_person() -> None:
    """An announcement over a music bed, repeated: its clear stretches never pass for a person."""
    rng = np.random.default_rng(8)
    music = corpus._normalise(corpus.music_tracks("test")[0], -22)
    prompts = corpus.prompts("test")
    announcement = corpus._normalise(
        np.concatenate([prompts[int(i)] for i in rng.integers(0, len(prompts), 3)]), -20
    )
    parts: list[Floats] = [music[: 10 * RATE]]
    position = 10 * RATE
    for _ in range(4):
        parts += [announcement + 0.3 * music[position : position + len(announcement)]]
        position += len(announcement)
        parts += [music[position : position + 12 * RATE]]
        position += 12 * RATE
    audio = through_channel(np.concatenate(parts), Channel(noise_db=-60.0), rng)
    assert EventKind.HUMAN_DETECTED not in [event.kind for event in _run(audio)]


def test_each_decision_brings_the_audio_up_to_its_end() -> None:
    """The state machine gets every frame up to the decision it comes with.

    The classifier's first decision comes after a second and takes all of it, not a step's
    worth: a step behind, every probe and reference waited 100 ms for its audio.
    """
    monitor = HoldMonitor()
    decisions, _ = monitor.push_block(np.random.default_rng(2).normal(0, 0.01, (73, FRAME)))
    assert decisions[-1].time == 70 * FRAME / RATE
    assert len(monitor._pending) == 3  # only the frames after the last decision wait
