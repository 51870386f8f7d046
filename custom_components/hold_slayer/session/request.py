"""What the user asked for: whom to call, why, and what the menu may ask for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from custom_components.hold_slayer.ivr.menu import normalise

MASK: Final = "•••"
DEFAULT_MAX_HOLD: Final = 3 * 3600.0


@dataclass(frozen=True, slots=True)
class Handoff:
    """What to do when a person answers.

    ``transfer_to`` bridges to that extension at once. Otherwise Hold Slayer keeps the agent
    on the line: it tells them the caller is being connected, repeats it politely every
    ``repeat_every`` seconds, and after ``patience`` seconds without anyone taking over it
    leaves ``callback_number`` (if set) and ends the call.
    """

    transfer_to: str | None = None
    announce_to_agent: str | None = None
    repeat_every: float = 20.0
    patience: float = 120.0
    callback_number: str | None = None

    def greeting(self) -> str:
        """What the agent hears first."""
        intro = self.announce_to_agent or "I'm an assistant calling on behalf of a customer."
        return (
            f"Hello, thank you for taking the call. {intro} Please stay on the line, I'm connecting you now."
        )

    @staticmethod
    def reminder() -> str:
        """What the agent hears while they wait."""
        return "Thank you for waiting. I'm still connecting you, please stay on the line."

    def farewell(self) -> str:
        """What the agent hears when nobody took over."""
        if self.callback_number:
            digits = " ".join(ch for ch in self.callback_number if ch.isdigit())
            return (
                "I'm sorry, the customer can't come to the phone right now. "
                f"Please call them back at {digits}. Thank you, goodbye."
            )
        return "I'm sorry, the customer can't come to the phone right now. They will call back. Goodbye."


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One call to place. ``secrets`` maps names ("account_number") to values."""

    target: str
    goal: str = ""
    company: str = ""
    secrets: Mapping[str, str] = field(default_factory=dict)
    max_hold: float = DEFAULT_MAX_HOLD
    language: str = "en"
    handoff: Handoff = field(default_factory=Handoff)
    accept_callback: bool = False  # take a callback the hold offers (the call then ends) instead of waiting

    def __repr__(self) -> str:
        # Secrets must never reach a log line through a repr.
        return (
            f"CallRequest(target={self.target!r}, company={self.company!r}, goal={self.goal!r}, "
            f"secrets={sorted(self.secrets)!r})"
        )

    def mask(self, text: str) -> str:
        """``text`` with every secret value (also spoken digit by digit) replaced by a mask."""
        for value in self.secrets.values():
            if not value:
                continue
            # "1234" also matches "1 2 3 4" and "1-2-3-4" as speech recognition writes digits.
            pattern = r"[\s-]*".join(re.escape(char) for char in value)
            text = re.sub(pattern, MASK, text)
        return text

    def scrub(self, text: str) -> str:
        """``text`` fit to keep (transcripts, routes): secret values masked, also in number words."""
        masked = self.mask(text)
        if self.mask(normalised := normalise(masked)) != normalised:
            return self.mask(normalised)
        return masked

    def holds_secret(self, text: str) -> bool:
        """Whether ``text`` carries a secret's value, in digits or in number words ("four three")."""
        return self.scrub(text) != text
