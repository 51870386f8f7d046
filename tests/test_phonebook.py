"""The phone book: parsing the options text, and finding companies by what people say."""

from __future__ import annotations

import pytest

from custom_components.hold_slayer.phonebook import (
    Contact,
    PhoneBook,
    PhoneBookLineError,
    contacts_from_options,
    format_phone_book,
    parse_phone_book,
)
from custom_components.hold_slayer.session.dialplan import DialPlan

TEXT = """
Acme Bank, acme, my bank = +1 800 555 0100
# a comment
Globex Insurance, insurance = (212) 555-0199
Acme Cable = 1-800-555-0111
"""


def test_parse_normalises_and_round_trips() -> None:
    contacts = parse_phone_book(TEXT, DialPlan(home_country_code="1"))
    assert contacts == [
        Contact("Acme Bank", "+18005550100", ("acme", "my bank")),
        Contact("Globex Insurance", "+12125550199", ("insurance",)),
        Contact("Acme Cable", "+18005550111"),
    ]
    stored = [contact.as_option() for contact in contacts]
    assert contacts_from_options(stored) == contacts
    assert parse_phone_book(format_phone_book(contacts), DialPlan()) == contacts
    assert contacts_from_options(None) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Acme Bank +1 800 555 0100", "malformed"),
        ("= +1 800 555 0100", "malformed"),
        ("Acme Bank =", "malformed"),
        ("Police = 911", "emergency_number"),
        ("Psychic = 1-900-555-0100", "premium_number"),
        ("London = +44 20 7946 0018", "international_number"),
        ("Acme = call me", "invalid_number"),
    ],
)
def test_parse_refuses_bad_lines(line: str, reason: str) -> None:
    with pytest.raises(PhoneBookLineError) as caught:
        parse_phone_book(f"Good = +18005550100\n{line}", DialPlan(home_country_code="1"))
    assert caught.value.reason == reason
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Acme Bank", "Acme Bank"),
        ("acme bank", "Acme Bank"),
        ("my bank", "Acme Bank"),
        ("the acme", "Acme Bank"),  # an alias, filler dropped
        ("Globex", "Globex Insurance"),  # one word of one company's name
        ("insurance company", "Globex Insurance"),
        ("acne bank", "Acme Bank"),  # misheard
        ("Acme Cable", "Acme Cable"),
        ("cable", "Acme Cable"),
    ],
)
def test_find(said: str, name: str) -> None:
    book = PhoneBook(parse_phone_book(TEXT, DialPlan()))
    contact = book.find(said)
    assert contact is not None
    assert contact.name == name


@pytest.mark.parametrize("said", ["pizza place", "", "my", "bank account"])
def test_find_nothing_close_enough(said: str) -> None:
    # "bank account" shares "bank" with Acme Bank only partly: no guess.
    assert PhoneBook(parse_phone_book(TEXT, DialPlan())).find(said) is None


def test_ambiguous_word_is_not_guessed() -> None:
    book = PhoneBook([Contact("Acme Bank", "+18005550100"), Contact("Acme Cable", "+18005550111")])
    assert book.find("acme") is None


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("+1 800 555 0100", True),
        ("800-555-0100", True),
        ("sip:desk@pbx", True),
        ("Acme", False),
        ("1", False),
    ],
)
def test_looks_like_number(said: str, expected: bool) -> None:
    assert PhoneBook.looks_like_number(said) is expected
