"""Word error rate for checking transcripts: words compared after the usual normalisation."""

from __future__ import annotations

import re

ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(number: int) -> list[str]:
    """A number below 100 in words, as a reference text says it ("21" = "twenty one")."""
    if number < 20:
        return [ONES[number]]
    tens, ones = divmod(number, 10)
    return [TENS[tens]] + ([ONES[ones]] if ones else [])


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; numbers below 100 spelt out ("press 1" = "press one")."""
    result: list[str] = []
    for token in re.findall(r"[a-z0-9']+", text.lower()):
        result += number_words(int(token)) if token.isdigit() and int(token) < 100 else [token]
    return result


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
