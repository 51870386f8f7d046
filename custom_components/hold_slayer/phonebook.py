"""The line's phone book: companies by name and aliases, resolved from what a user says.

Stored in the options as a list of ``{"name", "aliases", "number"}``; edited as lines of text
("Acme Bank, acme, my bank = +1 800 555 0100") because that is the one field HA's options UI
renders well for a short, user-sized list. No Home Assistant imports: the voice command and
the options form share it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .session.dialplan import DialPlan, DialRefusedError

# Words people add around a company's name that say nothing about which company it is.
_FILLER: Final = frozenset({"my", "the", "our", "a", "an", "please", "company", "line", "number"})
_WORD: Final = re.compile(r"[^\w]+")
_LOOKS_LIKE_NUMBER: Final = re.compile(r"^(?:sips?:\S+|[+0-9][0-9\s().\-/]{2,})$")
FUZZY_CUTOFF: Final = 0.8


@dataclass(frozen=True, slots=True)
class Contact:
    """A company the user calls: its display name, other names for it, and its number."""

    name: str
    number: str
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the company is known by, display name first."""
        return (self.name, *self.aliases)

    def as_option(self) -> dict[str, Any]:
        """How the options store it."""
        return {"name": self.name, "aliases": list(self.aliases), "number": self.number}


class PhoneBookLineError(ValueError):
    """A phone-book line is malformed or its number is refused."""

    def __init__(self, line: str, reason: str) -> None:
        super().__init__(f"{reason}: {line}")
        self.line = line
        self.reason = reason  # "malformed", or a dial refusal ("premium_number", …)


def parse_phone_book(text: str, dial_plan: DialPlan) -> list[Contact]:
    """Contacts from lines of ``name[, alias…] = number``; numbers normalised by ``dial_plan``.

    Raises :class:`PhoneBookLineError` for the first bad line.
    """
    contacts: list[Contact] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        names_text, sep, number_text = line.rpartition("=")
        names = [name.strip() for name in names_text.split(",") if name.strip()]
        if not sep or not names or not number_text.strip():
            raise PhoneBookLineError(line, "malformed")
        try:
            number = dial_plan.normalise(number_text)
        except DialRefusedError as err:
            raise PhoneBookLineError(line, str(err.refusal)) from err
        contacts.append(Contact(names[0], number, tuple(names[1:])))
    return contacts


def format_phone_book(contacts: Iterable[Contact]) -> str:
    """The text form of ``contacts`` (what the options form shows)."""
    return "\n".join(f"{', '.join(contact.names)} = {contact.number}" for contact in contacts)


def contacts_from_options(stored: Sequence[Mapping[str, Any]] | None) -> list[Contact]:
    """Contacts from the stored options."""
    return [
        Contact(str(item["name"]), str(item["number"]), tuple(str(a) for a in item.get("aliases", ())))
        for item in stored or ()
    ]


def _key(text: str) -> str:
    words = [word for word in _WORD.split(text.casefold()) if word]
    meaningful = [word for word in words if word not in _FILLER]
    return " ".join(meaningful or words)


class PhoneBook:
    """Finds a contact by what a user says: exact name or alias, then by words, then fuzzily."""

    def __init__(self, contacts: Iterable[Contact]) -> None:
        self.contacts = list(contacts)

    def find(self, said: str) -> Contact | None:
        """The contact ``said`` means, or ``None`` when none fits well enough."""
        wanted = _key(said)
        if not wanted:
            return None
        by_key = {_key(name): contact for contact in self.contacts for name in contact.names}
        if wanted in by_key:
            return by_key[wanted]
        # "Acme" for "Acme Bank": every word said appears in one (and only one) contact's name.
        words = set(wanted.split())
        partial = {contact.name: contact for key, contact in by_key.items() if words <= set(key.split())}
        if len(partial) == 1:
            return next(iter(partial.values()))
        # Misheard or misspelt ("acne bank"): the closest name, if close enough.
        close = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=FUZZY_CUTOFF)
        return by_key[close[0]] if close else None

    @staticmethod
    def looks_like_number(said: str) -> bool:
        """Whether ``said`` is a number or SIP URI rather than a name."""
        return bool(_LOOKS_LIKE_NUMBER.match(said.strip()))
