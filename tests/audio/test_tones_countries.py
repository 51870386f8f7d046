"""Every country's ringback, busy and congestion tone on wide lines, and no tone in music or speech.

Each clip (seeded) starts at a random point of the cadence, its frequencies up to ±1.5 % and its
periods up to ±5 % off the plan, and goes through a wide telephone channel
(``corpus.degraded_progress_tone``: ±20 dB, noise 15-45 dB below the tone, band edges, hum, AGC,
G.711 or GSM, up to 10 % of packets lost in bursts, concealed by silence or repeats). Tones
Asterisk plays with amplitude modulation are also tested as its generator makes them
(rectified: heard as the carrier alone)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from custom_components.hold_slayer.audio.tones import (
    CONFLICTS,
    FRAME,
    MIN_TONE_SECONDS,
    TONES,
    ProgressToneDetector,
    ToneKind,
    ToneSpec,
    decision_time,
    named_kind,
)
from harness import corpus
from harness.channel import Channel, through_channel

FRAME_SECONDS = FRAME / 8000
# The detector knows an on-period has ended once its tone has been gone for the bridge (80 ms)
# and a frame: a decision_time at the end of an on-period comes 0.1 s later.
GRACE = 0.15
# Issue 14's target is every tone; these still miss it on wide lines (docs/performance.md, tone
# notes). Strict: the day one passes, the test says so and the entry goes.
WIDE_LINE_SHORTFALLS = {
    "cz congestion": "10 % loss with repeat concealment splits its 0.33 s on-periods",
    "in ringback rectified": "a strong AGC on Asterisk's rectified 400*25 Hz: one clip is never named",
    "sg ringback rectified": "GSM, a 380 Hz band edge, Asterisk's rectified 425*24 Hz: one clip named late",
    "us-old ringback": "AGC drift on a two-frequency tone",
    "tw busy": "AGC lifts the off-period's noise to within 6 dB of the tone",
    "ve ringback": "AGC lifts the off-period's noise to within 6 dB of the tone",
    "za ringback": "AGC lifts the off-period's noise to within 6 dB of the tone",
}


def _case(spec: ToneSpec, rectified: bool) -> object:
    name = f"{spec.name}{' rectified' if rectified else ''}"
    shortfall = WIDE_LINE_SHORTFALLS.get(name)
    marks = [pytest.mark.xfail(reason=shortfall, strict=True)] if shortfall else []
    return pytest.param(spec, rectified, id=name, marks=marks)


CASES = [
    _case(spec, rectified)
    for spec in TONES
    for rectified in (False, True)
    if not rectified or any(sound.modulation for sound in spec.sounds)
]


def _kinds(spec: ToneSpec, rectified: bool, rng: np.random.Generator) -> tuple[list[ToneKind | None], float]:
    """The detector's output on a degraded clip of ``spec``, and its deadline (deadline + grace)."""
    deadline = decision_time(spec, carrier=rectified)
    signal, lead, tempo = corpus.degraded_progress_tone(
        spec, deadline + sum(spec.cadence) + 1.0, rng, rectified=rectified
    )
    frames = signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME)
    return ProgressToneDetector().push_block(frames), lead + deadline * tempo + GRACE


@pytest.mark.parametrize(("spec", "rectified"), CASES)
def test_every_countrys_tone_on_a_degraded_line(spec: ToneSpec, rectified: bool) -> None:
    """Named by its deadline, never as another kind, and for ≥ 99 % of the frames after it."""
    want = named_kind(spec)
    for seed in (1, 2):
        rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode()), int(rectified)])
        kinds, deadline = _kinds(spec, rectified, rng)
        after = kinds[int(np.ceil(deadline / FRAME_SECONDS)) :]
        assert {kind for kind in kinds if kind is not None} == {want}, f"seed {seed}"
        assert sum(kind is want for kind in after) >= 0.99 * len(after), f"seed {seed}"


def test_the_table_has_every_country() -> None:
    """41 countries of Asterisk's indications.conf, each with ringback, busy and congestion."""
    countries = {spec.country for spec in TONES}
    assert len(countries) == 41
    assert len(TONES) == 3 * 41
    for country in countries:
        kinds = sorted(spec.kind for spec in TONES if spec.country == country)
        assert kinds == sorted((ToneKind.RINGBACK, ToneKind.BUSY, ToneKind.REORDER))
    by_name = {spec.name: spec for spec in TONES}
    assert by_name["au ringback"].frequencies == (413.0, 438.0)  # not 400+450 (Asterisk)
    assert by_name["au busy"].frequencies == (425.0,)
    assert [sound.text for sound in by_name["au congestion"].sounds] == ["425", "420"]


def test_only_the_documented_tones_are_indistinguishable() -> None:
    """Nine tones share frequencies and cadence with another kind: the majority's kind is named."""
    assert {spec.name: named_kind(spec) for spec in CONFLICTS} == {
        "au congestion": ToneKind.BUSY,  # differs from its busy only in level
        "br busy": ToneKind.REORDER,
        "es busy": ToneKind.REORDER,
        "hu congestion": ToneKind.BUSY,
        "jp congestion": ToneKind.BUSY,
        "mx busy": ToneKind.REORDER,
        "my congestion": ToneKind.BUSY,
        "pl congestion": ToneKind.BUSY,
        "se busy": ToneKind.REORDER,
    }


def test_tones_are_named_within_a_cycle_or_one_and_a_half_seconds() -> None:
    """Ringback by the end of its first on-period; fast busy and congestion cadences need more.

    A cadence of short on-periods is confirmed by on-off-on (on-off-on-off-on under 0.6 s a
    cycle), because syllables and notes are as short: up to 1.5 s, more than a cycle.
    """
    for spec in TONES:
        # A cycle and the next on-period's first 80 ms, or 1.5 s
        assert decision_time(spec) <= max(sum(spec.cadence) + MIN_TONE_SECONDS + FRAME_SECONDS, 1.5), (
            spec.name
        )
    first_on = [spec.name for spec in TONES if decision_time(spec) == spec.cadence[0]]
    assert sum(name.endswith("ringback") for name in first_on) == 40


def _line(audio: corpus.Pcm, seed: int) -> list[ToneKind | None]:
    rng = np.random.default_rng(seed)
    signal = through_channel(corpus._normalise(audio, -20), Channel.random(rng), rng)
    return ProgressToneDetector().push_block(signal[: len(signal) // FRAME * FRAME].reshape(-1, FRAME))


@pytest.mark.parametrize("source", ["music", "speech", "prompts"])
def test_music_and_speech_are_never_a_tone(source: str) -> None:
    """The test half's hold music, people and recorded prompts: no frame named a tone."""
    recordings = {
        "music": corpus.music_tracks("test"),
        "speech": corpus.human_speech("test"),
        "prompts": (np.concatenate(corpus.prompts("test")),),
    }[source]
    for seed, audio in enumerate(recordings):
        kinds = _line(audio, seed)
        assert not any(kinds), f"{source} {seed}: {sum(k is not None for k in kinds)} frames named"


@pytest.mark.parametrize(
    ("name", "seed"),
    [
        # 425 Hz a little flat, through GSM and an AGC: the 420 and 425 Hz sets by turns, each
        # under half the windows, as the AGC drifts the level (the drift a pure tone may have).
        ("it ringback", 100),
        # 420*40 Hz through GSM and an AGC: its windows fit nearby sets of three frequencies by
        # turns, which broke each on-period into pieces.
        ("us-old ringback", 102),
        # 425 Hz through GSM at -8 dBFS: each on-period's first three windows spread into
        # 413+438 Hz, which named the open tone another sound and dropped the busy it was.
        ("fi busy", 102),
    ],
)
def test_a_tone_whose_windows_change_set_is_one_sound(name: str, seed: int) -> None:
    """Sets a 40 ms window cannot tell apart are one sound inside a tone (clips of bench/audio.py)."""
    spec = next(spec for spec in TONES if spec.name == name)
    kinds, deadline = _kinds(spec, False, np.random.default_rng([seed, 0, *spec.name.encode()]))
    after = kinds[int(np.ceil(deadline / FRAME_SECONDS)) :]
    assert sum(kind is named_kind(spec) for kind in after) >= 0.99 * len(after)
