"""Whole-prompt fingerprints on real audio: recorded IVR prompts and espeak-ng menus, one voice each.

The same prompt through the telephone channel (level, G.711, a GSM-like band, lost packets, an
endpointer that cuts it differently) must score at or above the route's threshold; different
prompts in the same voice, including a menu that swapped its keys, well below it.
docs/fingerprint.md has the figures these floors come from.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.audio.fingerprint import (
    PRINT_MAX_FRAMES,
    Envelope,
    fingerprint_likeness,
    fingerprint_part_likeness,
    fingerprint_seconds,
    prompt_audio,
    prompt_fingerprint,
    utterances_fingerprint,
)
from custom_components.hold_slayer.audio.monitor import TUNING
from custom_components.hold_slayer.audio.wav import read_8k
from custom_components.hold_slayer.ivr.routes import FINGERPRINT_LIKENESS
from harness.channel import Channel, bandpass, through_channel
from harness.corpus import PROMPTS_DIR, RATE, espeak

Floats = npt.NDArray[np.float64]

# Recorded prompts of one professional voice (asterisk-core-sounds-en-wav), 5-16 s each.
RECORDED = (
    "vm-opts",
    "vm-instructions",
    "dir-instr",
    "vm-review",
    "queue-periodic-announce",
    "tt-allbusy",
    "vm-tempgreeting2",
    "demo-enterkeywords",
    "vm-forwardoptions",
    "dir-usingkeypad",
)
MENU = "For billing, press 1. For technical support, press 2."
SWAPPED = "For technical support, press 1. For billing, press 2."
SPOKEN = (
    MENU,
    SWAPPED,
    "Please enter your ten digit account number, followed by the pound key.",
    "Thank you for calling Acme Bank. Your call may be recorded for quality purposes.",
    "To check your balance, press 1. To report a lost card, press 2. For an agent, press 0.",
    "In a few words, tell me why you are calling.",
)
VOICE = "en-us"


@cache
def _recorded(name: str) -> Floats:
    return read_8k(PROMPTS_DIR / f"{name}.wav")


def _pcm(signal: Floats) -> npt.NDArray[np.int16]:
    return np.clip(np.round(signal * 32768), -32768, 32767).astype(np.int16)


def _at_line_level(signal: Floats, db: float = -26.0) -> Floats:
    return signal * (10 ** (db / 20) / float(np.sqrt(np.mean(signal**2))))


def _gsm_like(signal: Floats) -> Floats:
    """A mobile leg's narrower, rippled band (200-3300 Hz with soft edges and a ±3 dB ripple)."""
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    gain = np.clip((freqs - 200) / 250, 0, 1) * np.clip((3300 - freqs) / 500, 0, 1)
    gain *= 1 + 0.4 * np.cos(freqs / 700)
    shaped: Floats = np.fft.irfft(np.fft.rfft(signal) * gain, len(signal))
    return shaped


@dataclass(frozen=True)
class Replay:
    """How a second call hears the prompt: cut, level, codec, band, loss."""

    name: str
    level_db: float = 0.0
    alaw: bool = False
    gsm: bool = False
    loss: float = 0.0
    cut_start: float = 0.0  # seconds the endpointer lost at the start …
    cut_end: float = 0.0  # … and at the end
    lead: float = 0.0  # seconds of line noise before it


REPLAYS = (
    Replay("μ-law, 12 dB louder", level_db=12.0),
    Replay("A-law, 12 dB quieter", level_db=-12.0, alaw=True),
    Replay("GSM-like band", gsm=True, level_db=-6.0),
    Replay("3 % packets lost", loss=0.03),
    Replay("cut 0.3 s at both ends", cut_start=0.3, cut_end=0.3, lead=0.5),
    Replay("everything", level_db=8.0, alaw=True, gsm=True, loss=0.02, cut_start=0.2, cut_end=0.1),
)


def _replayed(signal: Floats, replay: Replay, seed: int) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    heard = _at_line_level(signal)[
        round(replay.cut_start * RATE) : len(signal) - round(replay.cut_end * RATE)
    ]
    if replay.gsm:
        heard = _gsm_like(heard)
    heard = np.concatenate([np.zeros(round(replay.lead * RATE)), heard, np.zeros(RATE // 2)])
    channel = Channel(level_db=replay.level_db, noise_db=-62.0, loss=replay.loss, alaw=replay.alaw)
    return _pcm(through_channel(heard, channel, rng))


def _first_call(signal: Floats) -> str:
    """The fingerprint the first call kept: the prompt band-limited, at its own level."""
    return prompt_fingerprint(_pcm(bandpass(signal) * 0.5))


def _sources() -> dict[str, Floats]:
    return {
        **{name: _recorded(name) for name in RECORDED},
        **{f"espeak {index}": espeak(text, VOICE) for index, text in enumerate(SPOKEN)},
    }


@pytest.mark.parametrize("replay", REPLAYS, ids=lambda replay: replay.name)
def test_the_same_prompt_replayed_scores_high(replay: Replay) -> None:
    scores = {
        name: fingerprint_likeness(_first_call(signal), prompt_fingerprint(_replayed(signal, replay, seed)))
        for seed, (name, signal) in enumerate(_sources().items())
    }
    assert min(scores.values()) >= FINGERPRINT_LIKENESS + 0.15, scores
    assert float(np.median(list(scores.values()))) >= 0.75, scores


def test_different_prompts_in_one_voice_score_low() -> None:
    for voice, names in (("recorded", RECORDED), ("espeak", [f"espeak {i}" for i in range(len(SPOKEN))])):
        sources = _sources()
        kept = {name: _first_call(sources[name]) for name in names}
        scores = {
            (first, second): fingerprint_likeness(
                kept[first], prompt_fingerprint(_replayed(sources[second], REPLAYS[0], seed))
            )
            for seed, (first, second) in enumerate(itertools.permutations(names, 2))
        }
        assert max(scores.values()) < FINGERPRINT_LIKENESS - 0.2, (
            voice,
            max(scores.items(), key=lambda s: s[1]),
        )
        assert float(np.median(list(scores.values()))) < 0.15, voice


def test_a_menu_that_swapped_its_keys_is_another_recording() -> None:
    """Same words, same voice, options in another order: the words match, the recording does not."""
    before, after = espeak(MENU, VOICE), espeak(SWAPPED, VOICE)
    assert (
        fingerprint_likeness(_first_call(before), prompt_fingerprint(_replayed(after, REPLAYS[0], 1))) < 0.3
    )
    assert (
        fingerprint_likeness(_first_call(before), prompt_fingerprint(_replayed(before, REPLAYS[0], 1))) > 0.8
    )


def test_the_start_of_a_prompt_is_known_before_it_ends() -> None:
    """All but a prompt's last seconds, replayed, is its start; another prompt's start is not."""
    for seed, (name, signal) in enumerate(_sources().items()):
        kept = _first_call(signal)
        heard = _replayed(signal, REPLAYS[1], seed)
        start = prompt_fingerprint(
            heard[: len(heard) - round(2.0 * RATE)]
        )  # 1.5 s of it and its tail unheard
        assert fingerprint_part_likeness(kept, start) >= FINGERPRINT_LIKENESS + 0.15, name
        assert fingerprint_likeness(kept, start) < fingerprint_part_likeness(kept, start), name
    before, after = espeak(MENU, VOICE), espeak(SWAPPED, VOICE)
    kept, swapped = _first_call(before), _replayed(after, REPLAYS[0], 1)
    assert fingerprint_part_likeness(kept, prompt_fingerprint(swapped[: -2 * RATE])) < 0.3
    # Its end, from where it was heard, is it too; from elsewhere, or another menu's end, is not.
    replayed = _replayed(before, REPLAYS[0], 1)
    end = prompt_fingerprint(replayed[-3 * RATE :])
    played = fingerprint_seconds(kept) - fingerprint_seconds(end)
    assert fingerprint_part_likeness(kept, end, played) >= FINGERPRINT_LIKENESS + 0.15
    assert fingerprint_part_likeness(kept, end, 0.0) < FINGERPRINT_LIKENESS
    assert (
        fingerprint_part_likeness(kept, prompt_fingerprint(swapped[-3 * RATE :]), played)
        < FINGERPRINT_LIKENESS
    )


def test_level_and_identity() -> None:
    signal = _recorded("vm-opts")
    kept = prompt_fingerprint(_pcm(signal))
    assert fingerprint_likeness(kept, kept) == 1.0
    assert fingerprint_likeness(kept, prompt_fingerprint(_pcm(signal / 4))) >= 0.9  # 12 dB quieter
    assert fingerprint_likeness(kept, prompt_fingerprint(_pcm(signal))) == 1.0  # deterministic


def test_silence_short_and_malformed_match_nothing() -> None:
    silent = prompt_fingerprint(np.zeros(3 * RATE, dtype=np.int16))
    empty = prompt_fingerprint(np.zeros(0, dtype=np.int16))
    blip = prompt_fingerprint(_pcm(_at_line_level(_recorded("vm-opts"))[: RATE // 2]))  # 0.5 s
    real = prompt_fingerprint(_pcm(_recorded("vm-opts")))
    for fingerprint in (silent, empty, blip):
        assert isinstance(fingerprint, str)
        assert fingerprint_likeness(fingerprint, fingerprint) == 0.0
        assert fingerprint_likeness(fingerprint, real) == 0.0
    other_version = "Ag" + real[2:]  # first byte 2
    for broken in ("", "not base64!", "AQA", other_version):
        assert fingerprint_likeness(broken, real) == 0.0
        assert fingerprint_likeness(real, broken) == 0.0


def test_compact_and_json_safe() -> None:
    twenty = np.concatenate([_recorded("vm-opts"), _recorded("vm-instructions")])[: 20 * RATE]
    fingerprint = prompt_fingerprint(_pcm(twenty))
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert fingerprint.isascii()
    assert 250 <= len(fingerprint) <= 600  # about 400 bytes of sub-fingerprints for 20 s
    # A "prompt" of minutes (a session that never acted) keeps its first minute only.
    long = prompt_fingerprint(_pcm(np.tile(twenty, 5)))
    assert len(long) <= (1 + 2 * PRINT_MAX_FRAMES) * 4 // 3 + 4


@dataclass(frozen=True)
class _Utterance:
    audio: npt.NDArray[np.int16]
    start: float


def test_utterances_are_placed_as_the_line_played_them() -> None:
    """However the endpointer split the prompt, the fingerprint is the prompt's."""
    whole = _pcm(_at_line_level(_recorded("vm-opts")))
    kept = prompt_fingerprint(whole)
    for cuts in ([], [3.0], [2.2, 5.1], [1.0, 4.0, 6.5]):
        edges = [0, *(round(cut * RATE) for cut in cuts), len(whole)]
        utterances = [
            _Utterance(whole[start:end], 10.0 + start / RATE) for start, end in itertools.pairwise(edges)
        ]
        assert np.array_equal(prompt_audio(utterances), whole)
        fingerprint = utterances_fingerprint(utterances)
        assert fingerprint is not None
        assert fingerprint_likeness(kept, fingerprint) == 1.0
    # Utterances arrive with the pauses between them cut out: the gaps come back as silence.
    gap = _Utterance(whole[: 2 * RATE], 0.0), _Utterance(whole[3 * RATE :], 3.0)
    laid_out = prompt_audio(gap)
    assert len(laid_out) == len(whole)
    assert not laid_out[2 * RATE : 3 * RATE].any()
    assert utterances_fingerprint([]) is None
    assert utterances_fingerprint([_Utterance(whole[: RATE // 2], 1.0)]) is None


def _rows(signal: Floats | npt.NDArray[np.int16]) -> Floats:
    audio = np.asarray(signal, dtype=np.float64)
    if np.issubdtype(np.asarray(signal).dtype, np.integer):
        audio = audio / 32768
    return audio[: len(audio) // 160 * 160].reshape(-1, 160)


@pytest.mark.parametrize("replay", REPLAYS, ids=lambda replay: replay.name)
def test_an_envelope_replayed_lines_up_with_the_recording(replay: Replay) -> None:
    """The monitor's spectrogram check (a recording played again down a lossy line): any 0.7 s
    of the replay lines up with the first play at the monitor's threshold or better."""
    for index, name in enumerate(RECORDED[:4]):
        first = Envelope.of(_rows(_replayed(_recorded(name), Replay("first"), index)))
        again = _rows(_replayed(_recorded(name), replay, 100 + index))
        for start in (50, 120):
            likeness = first.likeness(Envelope.of(again[start : start + 35]))
            assert likeness >= TUNING.envelope_likeness, (name, start)


def test_an_envelope_replayed_under_a_moving_gain_still_lines_up() -> None:
    """A line's AGC that swings the level by 30 dB within the stretch, differently from the first
    play: each frame's level is out of the envelope, so the replay lines up as it does without."""
    signal = _recorded("vm-opts")
    first = Envelope.of(_rows(_replayed(signal, Replay("first"), 0)))
    again = _rows(_replayed(signal, Replay("first"), 1))[50:85]
    swing = 10 ** (np.linspace(-15, 15, len(again)) / 20)[:, None]
    steady = first.likeness(Envelope.of(again))
    assert steady >= TUNING.envelope_likeness
    assert abs(first.likeness(Envelope.of(again * swing)) - steady) < 0.01


def test_digital_silence_is_like_nothing() -> None:
    """A hold's stretch of exact zeros (a line that sends nothing between sounds) has no spread: it
    lines up with no probe, where dividing by its spread made it like everything."""
    voice = _rows(_replayed(_recorded("vm-opts"), Replay("first"), 0))[50:85]
    hold = np.concatenate([np.zeros((100, 160)), voice[::-1]])
    assert Envelope.of(hold).likeness(Envelope.of(voice)) < TUNING.envelope_likeness
    assert Envelope.of(np.zeros((100, 160))).likeness(Envelope.of(voice)) == 0.0
    assert Envelope.of(voice).likeness(Envelope.of(np.zeros((35, 160)))) == 0.0


def test_an_envelope_of_other_speech_does_not_line_up() -> None:
    """Other words, of the same voice talent or another voice, stay under the threshold at every
    0.7 s tried. (Prompts that share a phrase, "press 1 to …", do line up there: the same
    recording of it, which is what the check is for.)"""
    first = Envelope.of(_rows(_replayed(_recorded("vm-opts"), Replay("first"), 0)))
    others = {
        **{name: _recorded(name) for name in ("queue-periodic-announce", "tt-allbusy", "dir-usingkeypad")},
        **{text: espeak(text, VOICE) for text in (SPOKEN[2], SPOKEN[3], SPOKEN[5])},
    }
    for index, (name, signal) in enumerate(others.items(), 1):
        other = _rows(_replayed(signal, Replay("other"), index))
        starts = range(0, len(other) - 35, 10)
        best = max(first.likeness(Envelope.of(other[start : start + 35])) for start in starts)
        assert best < TUNING.envelope_likeness, name
    assert first.likeness(Envelope.of(np.zeros((1, 160)))) == 0.0  # too short to say
    assert Envelope.of(np.zeros((10, 160))).likeness(Envelope.of(np.zeros((35, 160)))) == 0.0
