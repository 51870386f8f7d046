"""The voice signature: whose voice a stretch of talk is (audio/voice.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from custom_components.hold_slayer.audio.voice import VOICE_PATH, KnownVoices, VoiceSignature, audio_inputs
from harness import corpus
from harness.channel import Channel, through_channel
from harness.speakers import check_ranking

PERFORMANCE = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
RATE = 8000


def test_the_shipped_signature_reproduces_its_documented_check_figure() -> None:
    """The fixed check set (harness/speakers.check_trials) ranks as docs/performance.md says.

    The figure there is written by tools/train_voice.py from this very computation: weights
    changed without their figures, or frame features that drifted from what the signature was
    fitted on, fail here.
    """
    found = re.search(r"fixed check set \(`harness\.speakers[^|]*\| AUC (\d\.\d+)", PERFORMANCE.read_text())
    assert found, "docs/performance.md has no voice check figure: run script/train-voice"
    assert f"{check_ranking():.4f}" == found.group(1)


def test_the_company_voice_is_nearer_itself_than_people_are() -> None:
    """A voice talent's other prompts are more like her menu than any of four speakers."""
    prompts = corpus.prompts("test")
    rng = np.random.default_rng(3)
    line = Channel(alaw=True, noise_db=-55, loss=0.01)
    menu = through_channel(corpus._normalise(np.concatenate(prompts[:6]), -20), line, rng)
    company = KnownVoices()
    company.learn(menu)
    again = [
        company.likeness(
            through_channel(corpus._normalise(np.concatenate(prompts[start : start + 2]), -20), line, rng)
        )
        for start in (20, 30, 40, 50)
    ]
    speech = corpus._normalise(np.concatenate(corpus.human_speech("test")), -20)
    people = [
        company.likeness(through_channel(speech[start * RATE : (start + 2) * RATE], line, rng))
        for start in (0, 7, 14, 21)
    ]
    assert min(again) > max(people)


def test_talk_too_short_has_no_signature_and_nothing_known_is_like_nothing() -> None:
    company = KnownVoices()
    assert company.signature(np.zeros(RATE // 4)) is None
    assert company.signature(np.zeros(0)) is None
    assert not company.known
    assert company.likeness(np.random.default_rng(1).normal(0, 0.1, 2 * RATE)) == -1.0
    company.learn(np.zeros(RATE // 4))  # too short: nothing learned
    assert not company.known


def test_a_signature_is_a_unit_vector_and_deterministic() -> None:
    signature = VoiceSignature.load()
    talk = corpus._normalise(np.concatenate(corpus.prompts("test")[:2]), -20)
    first, second = signature(audio_inputs(talk)), signature(audio_inputs(talk))
    assert np.linalg.norm(first) == pytest.approx(1.0)
    assert np.array_equal(first, second)
    with pytest.raises(ValueError, match="more than"):
        signature(audio_inputs(talk[: signature.context * 160]))


def test_weights_fitted_on_other_features_are_refused(tmp_path: Path) -> None:
    with np.load(VOICE_PATH) as data:
        arrays = dict(data)
    arrays["frame_inputs"] = arrays["frame_inputs"][::-1]
    other = tmp_path / "voice.npz"
    np.savez(other, **arrays)
    with pytest.raises(ValueError, match="other features"):
        VoiceSignature.load(other)


def test_the_company_voice_is_the_mean_of_the_latest_signatures() -> None:
    """More of the company's talk makes its voice surer; only the latest ``most`` are kept."""
    prompts = corpus.prompts("test")
    speech = corpus._normalise(np.concatenate(corpus.human_speech("test")[1:]), -20)
    other_prompts = corpus._normalise(np.concatenate(prompts[20:24]), -20)
    company = KnownVoices(most=2)
    assert company.learn(corpus._normalise(np.concatenate(prompts[:3]), -20)) == -1.0  # nothing known before
    once = company.likeness(other_prompts)
    assert company.learn(other_prompts) == once  # learning says how like it the talk was before
    company = KnownVoices(most=2)
    company.learn(corpus._normalise(np.concatenate(prompts[:3]), -20))
    company.learn(corpus._normalise(np.concatenate(prompts[3:6]), -20))
    twice = company.likeness(other_prompts)
    assert twice > once
    company.learn(speech[: 3 * RATE])  # a person taken for the company (a mistake) …
    company.learn(speech[3 * RATE : 6 * RATE])  # … twice: the prompts' voice is forgotten
    assert company.likeness(other_prompts) < once
