"""Word error rate for checking transcripts: words compared after the usual normalisation."""

from __future__ import annotations

import re

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; single digits spelt out ("press 1" = "press one")."""
    tokens = re.findall(r"[a-z0-9']+", text.lower())
    return [DIGITS[int(token)] if token.isdigit() and len(token) == 1 else token for token in tokens]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1] / len(ref)
