"""What a navigator decides, and the protocol every decider implements.

Deciders never see secret values: a digit prompt is answered with :class:`Press` naming the
secret, and the session substitutes the value when it sends the tones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .menu import Prompt


@dataclass(frozen=True, slots=True)
class Press:
    """Send DTMF: ``digits``, or the value of the secret ``secret`` followed by ``digits``."""

    digits: str = ""
    secret: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Say:
    """Speak ``text`` to the line."""

    text: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Wait:
    """Do nothing yet; listen on."""

    reason: str = ""


type Action = Press | Say | Wait


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything a decider may use: never secret values, only their names."""

    goal: str
    prompt: Prompt
    secret_names: frozenset[str] = frozenset()
    attempts: int = 1  # how many times this prompt has been heard
    history: Sequence[tuple[str, Action]] = field(default_factory=tuple)  # (prompt text, action)


class Decider(Protocol):
    """Choose what to do about a prompt; ``None`` when this decider does not know."""

    async def decide(self, context: DecisionContext) -> Action | None:
        """Decide, or pass (``None``) to the next decider in a chain."""


class ChainDecider:
    """Ask deciders in order (rules first, then a language model); the first answer wins."""

    def __init__(self, deciders: Sequence[Decider]) -> None:
        self.deciders = tuple(deciders)
        self.calls = 0  # decisions asked of any decider after the first (the costly ones)

    async def decide(self, context: DecisionContext) -> Action | None:
        """The first decider's answer that is not ``None``."""
        for index, decider in enumerate(self.deciders):
            if index:
                self.calls += 1
            if (action := await decider.decide(context)) is not None:
                return action
        return None
