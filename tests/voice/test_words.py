"""The word error rate the speech tests rely on."""

from __future__ import annotations

import pytest

from harness.words import word_error_rate, words


def test_normalisation() -> None:
    assert words("For billing, press 1. Don't hang up!") == [
        "for",
        "billing",
        "press",
        "one",
        "don't",
        "hang",
        "up",
    ]


@pytest.mark.parametrize(
    ("hypothesis", "expected"),
    [
        ("press one for billing", 0.0),
        ("Press 1 for billing.", 0.0),
        ("press one for killing", 0.25),  # substitution
        ("press one billing", 0.25),  # deletion
        ("please press one for billing", 0.25),  # insertion
        ("", 1.0),
    ],
)
def test_word_error_rate(hypothesis: str, expected: float) -> None:
    assert word_error_rate("press one for billing", hypothesis) == expected


def test_empty_reference() -> None:
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "noise") == 1.0
