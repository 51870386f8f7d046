"""The classifier's audio sources, split by source (harness/sources.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.sources import (
    MUSIC,
    SOURCES,
    VALIDATION,
    VOICES,
    Kind,
    Source,
    _expand,
    by_name,
    fold_model,
    sentences,
    voice_language,
)


def test_every_kind_has_sources_on_both_sides_of_the_split() -> None:
    """The held-out side judges what training never heard: music, a live voice, a recorded
    voice and a synthesiser, each its own source."""
    assert len({source.name for source in SOURCES}) == len(SOURCES)
    for kind in Kind:
        of_kind = [source for source in SOURCES if source.kind is kind]
        assert any(source.held_out for source in of_kind), kind
        assert any(not source.held_out for source in of_kind), kind
    assert all(source.kind is Kind.MUSIC for source in MUSIC)
    assert all(source.kind is not Kind.MUSIC for source in VOICES)


def test_the_validation_fold_is_training_sources_of_every_kind() -> None:
    """The monitor is tuned on holds of the validation fold: music, announcers and people the
    validation model never heard, none of them the held-out test; its model has its own file."""
    fold = [by_name(name) for name in VALIDATION]
    assert not any(source.held_out for source in fold)
    assert {source.kind for source in fold} == set(Kind)
    left = [source for source in SOURCES if not source.held_out and source not in fold]
    assert {source.kind for source in left} == set(Kind)  # the validation model learns every kind
    assert fold_model(VALIDATION).name == "model-without-validation.npz"
    assert fold_model(("xmoto-music",)).name == "model-without-xmoto-music.npz"


def test_brace_patterns_expand_like_a_shell() -> None:
    assert _expand("/a/{x,y}/{1,2}.raw") == ["/a/x/1.raw", "/a/x/2.raw", "/a/y/1.raw", "/a/y/2.raw"]
    assert _expand("/plain/*.wav") == ["/plain/*.wav"]


def test_synthetic_voices_train_and_check_on_different_lines() -> None:
    for source in SOURCES:
        for voice in source.voices:
            training = sentences(source, voice, training=True)
            checking = sentences(source, voice, training=False)
            assert training, voice
            assert checking, voice
            assert not set(training) & set(checking), voice
    europe = next(source for source in SOURCES if source.name == "espeak-ng-europe")
    assert [voice_language(europe, voice) for voice in ("de", "it+f3", "pt-br")] == ["de", "it", "pt"]


def test_a_missing_package_is_named() -> None:
    from harness.sources import SourceMissingError

    ghost = Source("ghost", Kind.MUSIC, "ghost-music", "", False, "/nonexistent/ghost/*.ogg")
    with pytest.raises(SourceMissingError, match="apt-get install ghost-music"):
        ghost.files()


def test_a_recording_decodes_to_the_same_samples_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sox dithers from the clock unless told not to: a cache made on CI must equal one made here."""
    from harness import sources

    allison = sources.by_name("asterisk-en-allison")
    path = allison.files()[0]
    decoded = []
    for attempt in range(2):
        monkeypatch.setattr(sources, "CACHE", tmp_path / str(attempt))
        decoded.append(sources._decoded(allison, path))
    assert len(decoded[0]) > 1000
    assert (decoded[0] == decoded[1]).all()
