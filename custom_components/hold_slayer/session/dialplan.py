"""The dial plan: what Hold Slayer may dial on the user's SIP account.

Toll fraud is the real risk of an automated SIP caller, so the plan is strict: numbers are
normalised to E.164 with the line's home country, emergency numbers are refused always (an
automated caller must never tie up an emergency line), and premium-rate or international
numbers only when an allowed prefix covers them. SIP URIs pass unchanged (they stay on the PBX
or reach a peer the user named).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# Emergency short codes used around the world (ITU E.161.1, national plans). Always refused.
EMERGENCY_NUMBERS: Final = frozenset(
    {"911", "112", "999", "000", "110", "119", "100", "101", "102", "103", "108", "15", "17", "18", "911#"}
)
# Premium-rate ranges per country calling code, as national significant number prefixes.
PREMIUM_PREFIXES: Final = {
    "1": ("900", "976"),
    "44": ("9", "871", "872", "873"),
    "49": ("900", "137"),
    "33": ("89", "81", "82"),
    "61": ("190",),
    "39": ("89", "899"),
    "34": ("80", "905"),
}
_SIP_URI: Final = re.compile(r"^sips?:[^@\s]+@[^\s@]+$")
_SEPARATORS: Final = re.compile(r"[\s().\-/]")
_NUMBER_LIKE: Final = re.compile(r"\+?[0-9().\-]+")


class DialRefusal(StrEnum):
    """Why a number may not be dialled (translation keys of the service errors)."""

    INVALID = "invalid_number"
    EMERGENCY = "emergency_number"
    PREMIUM = "premium_number"
    INTERNATIONAL = "international_number"
    BLOCKED = "blocked_number"


class DialRefusedError(ValueError):
    """The dial plan refuses a number."""

    def __init__(self, refusal: DialRefusal, number: str) -> None:
        super().__init__(f"{refusal}: {mask_number(number)}")
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class DialPlan:
    """A line's rules. Prefixes are E.164 without the plus ("44", "1900")."""

    home_country_code: str = "1"
    allowed_prefixes: Sequence[str] = ()
    blocked_prefixes: Sequence[str] = ()
    emergency_numbers: Sequence[str] = ()

    def normalise(self, number: str) -> str:
        """The number as E.164 ("+18005550100"), or a SIP URI unchanged.

        Raises :class:`DialRefusedError` when the plan refuses it.
        """
        text = number.strip()
        if _SIP_URI.match(text):
            return text
        digits = _SEPARATORS.sub("", text)
        if not re.fullmatch(r"\+?[0-9]{2,17}", digits):
            raise DialRefusedError(DialRefusal.INVALID, number)
        if digits.lstrip("+") in EMERGENCY_NUMBERS | set(self.emergency_numbers):
            raise DialRefusedError(DialRefusal.EMERGENCY, number)
        e164 = self._to_e164(digits, number)
        if not 8 <= len(e164) <= 16:
            raise DialRefusedError(DialRefusal.INVALID, number)
        bare = e164[1:]
        if any(bare.startswith(prefix.lstrip("+")) for prefix in self.blocked_prefixes):
            raise DialRefusedError(DialRefusal.BLOCKED, number)
        allowed = any(bare.startswith(prefix.lstrip("+")) for prefix in self.allowed_prefixes)
        if not allowed and not bare.startswith(self.home_country_code):
            raise DialRefusedError(DialRefusal.INTERNATIONAL, number)
        if not allowed and self._premium(bare):
            raise DialRefusedError(DialRefusal.PREMIUM, number)
        return e164

    def allows_redirect(self, uri: str) -> bool:
        """Whether a carrier's 3xx may move a call to the SIP URI ``uri``.

        A number in its user part must pass the plan like any number dialled (a redirect to a
        premium or emergency number is refused); a name (``sip:billing@…``) dials no number.
        """
        user = uri.split(":", 1)[-1].split("@", 1)[0].split(";", 1)[0]
        if not _NUMBER_LIKE.fullmatch(user):
            return True
        try:
            self.normalise(user)
        except DialRefusedError:
            return False
        return True

    def _to_e164(self, digits: str, original: str) -> str:
        home = self.home_country_code
        if digits.startswith("+"):
            return digits
        if digits.startswith("00"):
            return "+" + digits[2:]
        if home == "1":  # NANP: 10 digits, or 1 + 10 digits; "011" is the international prefix
            if digits.startswith("011"):
                return "+" + digits[3:]
            if len(digits) == 10:
                return "+1" + digits
            if len(digits) == 11 and digits.startswith("1"):
                return "+" + digits
            raise DialRefusedError(DialRefusal.INVALID, original)
        if digits.startswith("0"):  # national trunk prefix
            return "+" + home + digits[1:]
        raise DialRefusedError(DialRefusal.INVALID, original)

    def _premium(self, bare: str) -> bool:
        for country, prefixes in PREMIUM_PREFIXES.items():
            if bare.startswith(country):
                national = bare[len(country) :]
                return any(national.startswith(prefix) for prefix in prefixes)
        return False


def mask_number(number: str) -> str:
    """A number for logs and entity attributes: the last four digits only."""
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("sip"):
        user = number.split(":", 1)[-1].split("@", 1)[0]
        return "sip:" + ("•" * max(0, len(user) - 4)) + user[-4:] + "@…"
    return "•" * max(0, len(digits) - 4) + digits[-4:]
