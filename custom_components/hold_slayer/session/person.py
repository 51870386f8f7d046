"""Whether a transcript sounds like a person rather than a machine.

Used while still in the menu (a person may answer straight after it, with no hold at all) and
to veto the acoustic detector when a "person" turns out to read out a menu.
"""

from __future__ import annotations

import re
from typing import Final

from custom_components.hold_slayer.ivr.menu import PromptKind, normalise, offer_only, parse_prompt

_PERSON_CUES: Final = re.compile(
    r"\b(?:this is [a-z]+|my name is|[a-z]+ speaking|you(?:'ve| have) reached [a-z]+ (?:with|from|in|at)|"
    r"how (?:can|may|might) i (?:help|assist)|what can i (?:do for you|help you with)|"
    r"who am i speaking (?:with|to)|"
    r"what seems to be the (?:problem|issue|trouble)|what(?: is|'s) going on with|"
    r"who do i have|can i (?:have|get) your name|are you there)\b"
)
_MACHINE_CUES: Final = re.compile(
    r"\b(?:press|for example|in a few words|automated|menu|options?|your call is important|"
    r"recorded|please hold|stay on the line|caller number|in the order)\b"
)


def sounds_like_person(text: str) -> bool:
    """A greeting a person gives ("this is Sarah, how can I help?") and no IVR wording.

    Judged sentence by sentence: an utterance may run from the hold's announcement straight
    into the agent's greeting ("... stay on the line. Thanks for holding, who am I speaking
    with?"), and the greeting decides. A menu anywhere in it does not come from a person, except
    the hold's own callback offer before the greeting ("to request a callback, press 9. Ironclad
    home policies, this is Bea"): the agent answered as the announcement ended.
    """
    return bool(person_sentences(text))


def person_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that greet like a person; none when it :func:`sounds_like_person` not."""
    sentences = _sentences(text)
    greeted = [index for index, sentence in enumerate(sentences) if _person_sentence(sentence)]
    if not greeted:
        return []
    for index, sentence in enumerate(sentences):
        prompt = parse_prompt(sentence)
        if prompt.kind in (PromptKind.MENU, PromptKind.DIGITS) and not (
            offer_only(prompt) and index < greeted[-1]
        ):
            return []
    return [sentences[index] for index in greeted]


def greets_last(text: str) -> bool:
    """Whether ``text`` ends with a person's greeting or question to us, whatever came before.

    Only for a voice the acoustic monitor already heard as new on the hold: the words before may
    be the recording it cut off, or a recogniser primed with phone menus turning a company's
    name into keys ("Fastlane tech support, you've reached Nina" read as "press nine, press
    four, you've reached nine, press nine. What seems to be the problem?"). A recording that
    did end so is retracted when its music comes back.
    """
    sentences = _sentences(text)
    return bool(sentences) and _person_sentence(sentences[-1])


def hold_words(text: str) -> bool:
    """Whether the words read of a voice the acoustic monitor heard as new make it the hold's.

    The words decide only against a person: no words, or a greeting, leave the voice a person;
    so do words that end with a greeting (:func:`greets_last`), whatever the recogniser made of
    those before. Hold wording they start with is the announcement the voice ran on from
    (:func:`after_hold_wording`): the words after it decide, and a menu or an announcement's
    wording there makes the voice the hold's.
    """
    if not text:
        return False
    words = after_hold_wording(text)
    return not words or (
        parse_prompt(words).kind is not PromptKind.STATEMENT
        and not sounds_like_person(words)
        and not greets_last(words)
    )


def after_hold_wording(text: str) -> str:
    """``text`` without the hold's wording it starts with ("Thank you for your patience.").

    For a voice the acoustic monitor heard as new: an agent who answers as the announcement ends,
    with no pause, is one voice to the monitor, and its words are read from the announcement's
    start. What follows the announcement's wording is the voice awaiting our reply; a recording
    that is hold wording throughout leaves nothing.
    """
    sentences = _sentences(text)
    first = next(
        (
            index
            for index, sentence in enumerate(sentences)
            if parse_prompt(sentence).kind is not PromptKind.HOLD
        ),
        len(sentences),
    )
    return " ".join(sentences[first:])


def _sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]


def _person_sentence(text: str) -> bool:
    norm = normalise(text)
    if _MACHINE_CUES.search(norm):
        return False
    if parse_prompt(text).kind in (PromptKind.MENU, PromptKind.DIGITS, PromptKind.HOLD):
        return False
    return bool(_PERSON_CUES.search(norm))
