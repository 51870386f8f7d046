"""The dial plan: E.164 normalisation and the toll-fraud guards."""

from __future__ import annotations

import re

import pytest

from custom_components.hold_slayer.session.dialplan import (
    DialPlan,
    DialRefusal,
    DialRefusedError,
    mask_number,
)

US = DialPlan("1")
UK = DialPlan("44")


@pytest.mark.parametrize(
    ("plan", "number", "e164"),
    [
        (US, "(800) 555-0100", "+18005550100"),
        (US, "1-800-555-0100", "+18005550100"),
        (US, "+1 800 555 0100", "+18005550100"),
        (UK, "020 7946 0018", "+442079460018"),
        (UK, "+44 20 7946 0018", "+442079460018"),
        (UK, "0044 20 7946 0018", "+442079460018"),
        (US, "sip:desk@pbx.local", "sip:desk@pbx.local"),
    ],
)
def test_normalise(plan: DialPlan, number: str, e164: str) -> None:
    assert plan.normalise(number) == e164


@pytest.mark.parametrize(
    ("plan", "number", "refusal"),
    [
        (US, "911", DialRefusal.EMERGENCY),
        (UK, "999", DialRefusal.EMERGENCY),
        (UK, "112", DialRefusal.EMERGENCY),
        (DialPlan("49", emergency_numbers=("19222",)), "19222", DialRefusal.EMERGENCY),
        (US, "1-900-555-0100", DialRefusal.PREMIUM),
        (UK, "09098 790 000", DialRefusal.PREMIUM),
        (US, "011 44 20 7946 0018", DialRefusal.INTERNATIONAL),
        (US, "+44 20 7946 0018", DialRefusal.INTERNATIONAL),
        (DialPlan("1", blocked_prefixes=("1800",)), "800 555 0100", DialRefusal.BLOCKED),
        (US, "555-0100", DialRefusal.INVALID),
        (US, "call mom", DialRefusal.INVALID),
        (US, "+1 234", DialRefusal.INVALID),
        (UK, "7946 0018", DialRefusal.INVALID),
    ],
)
def test_refusals(plan: DialPlan, number: str, refusal: DialRefusal) -> None:
    with pytest.raises(DialRefusedError) as caught:
        plan.normalise(number)
    assert caught.value.refusal is refusal
    digits = re.sub(r"\D", "", number)
    assert len(digits) <= 4 or digits not in str(caught.value)  # errors show the last four only


def test_allowed_prefixes_open_international_and_premium() -> None:
    plan = DialPlan("1", allowed_prefixes=("44", "+1900"))
    assert plan.normalise("011 44 20 7946 0018") == "+442079460018"
    assert plan.normalise("1 900 555 0100") == "+19005550100"
    with pytest.raises(DialRefusedError):
        DialPlan("1", allowed_prefixes=("9",)).normalise("911")


def test_mask_number() -> None:
    assert mask_number("+18005550100") == "•••••••0100"
    assert mask_number("sip:desk1234@pbx") == "sip:••••1234@…"


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("sip:+18005550199@carrier.example", True),  # another toll-free number at home
        ("sip:8005550199@carrier.example;user=phone", True),
        ("sip:billing@pbx.example:5070", True),  # a name on a SIP host: no number dialled
        ("sip:+19005550100@carrier.example", False),  # premium rate
        ("sip:911@carrier.example", False),  # emergency
        ("sip:+442079460018@carrier.example", False),  # international, not allowed here
        ("sip:12@carrier.example", False),  # no number the plan can read
    ],
)
def test_a_redirect_target_must_pass_the_plan(uri: str, allowed: bool) -> None:
    assert US.allows_redirect(uri) is allowed
