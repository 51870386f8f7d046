"""What a navigator decides, and the protocol every decider implements.

Deciders never see secret values: a digit prompt is answered with :class:`Press` naming the
secret, and the session substitutes the value when it sends the tones. The set of actions is
closed: press keys (or a named secret), say a short phrase, wait, hang up with a reason. Each
action carries its ``source`` (the decider that chose it) and ``reason`` for the transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from .menu import Prompt


@dataclass(frozen=True, slots=True)
class Press:
    """Send DTMF: ``digits``, or the value of the secret ``secret`` followed by ``digits``."""

    digits: str = ""
    secret: str | None = None
    reason: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Say:
    """Speak ``text`` to the line."""

    text: str
    reason: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Wait:
    """Do nothing yet; listen on."""

    reason: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class HangUp:
    """End the call: the line is closed or cannot help (``reason`` says which)."""

    reason: str = ""
    source: str = ""


type Action = Press | Say | Wait | HangUp


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything a decider may use: never secret values, only their names."""

    goal: str
    prompt: Prompt
    secret_names: frozenset[str] = frozenset()
    attempts: int = 1  # how many times this prompt has been heard
    history: Sequence[tuple[str, Action]] = field(default_factory=tuple)  # (prompt text, action)
    forbidden_keys: frozenset[str] = frozenset()  # keys no decider may press (a callback the call declines)
    fingerprint: str | None = None  # of the prompt's audio (audio.fingerprint.utterances_fingerprint)
    language: str = "en"  # the call's language (CallRequest.language): picks a language front door's key


@dataclass(frozen=True, slots=True)
class ExpectedPrompt:
    """A prompt a decider knows is coming and will answer: its words and its recording's fingerprint."""

    text: str
    fingerprint: str
    early: bool = True  # may be answered before it ends (its line took keys and words typed ahead)


class Decider(Protocol):
    """Choose what to do about a prompt; ``None`` when this decider does not know.

    A decider may have a ``source`` (its name in the transcript), ``costly = True`` (it asks
    a language model, which the call's figures count) and ``expected()`` (the prompts it knows
    are coming, so the navigator can know them by their recording as they end).
    """

    async def decide(self, context: DecisionContext) -> Action | None:
        """Decide, or pass (``None``) to the next decider in a chain."""


def source_of(decider: Decider) -> str:
    """What the transcript calls a decider."""
    return str(getattr(decider, "source", "") or type(decider).__name__)


def expected_of(decider: Decider) -> list[ExpectedPrompt]:
    """The prompts ``decider`` knows are coming (none, for a decider that cannot know)."""
    expected = getattr(decider, "expected", None)
    return list(expected()) if callable(expected) else []


class ChainDecider:
    """Ask deciders in order (routes, rules, then language models); the first answer wins."""

    source = "navigator"  # for what none of them answered

    def __init__(self, deciders: Sequence[Decider]) -> None:
        self.deciders = tuple(deciders)
        self.calls = 0  # questions asked of costly deciders (language models)

    def expected(self) -> list[ExpectedPrompt]:
        """The prompts the deciders know are coming next."""
        return [prompt for decider in self.deciders for prompt in expected_of(decider)]

    async def decide(self, context: DecisionContext) -> Action | None:
        """The first decider's answer that is not ``None``, stamped with its source."""
        for decider in self.deciders:
            if getattr(decider, "costly", False):
                self.calls += 1
            if (action := await decider.decide(context)) is not None:
                return action if action.source else replace(action, source=source_of(decider))
        return None
