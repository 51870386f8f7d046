"""What the user asked for: whom to call, why, and what the menu may ask for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

MASK: Final = "•••"
DEFAULT_MAX_HOLD: Final = 3 * 3600.0


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One call to place. ``secrets`` maps names ("account_number") to values."""

    target: str
    goal: str = ""
    company: str = ""
    secrets: Mapping[str, str] = field(default_factory=dict)
    max_hold: float = DEFAULT_MAX_HOLD
    language: str = "en"

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
