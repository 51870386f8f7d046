"""Whether a transcript sounds like a person: greetings yes, IVR wording no, sentence by sentence."""

from __future__ import annotations

import pytest

from custom_components.hold_slayer.session.person import sounds_like_person


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Thanks for holding, this is Sarah in billing. Who am I speaking with today?", True),
        ("Oscorp, Harry speaking.", True),
        ("Hi there, you've reached Marcus with Northwind billing. How can I help?", True),
        # What tiny.en wrote when an announcement ran straight into the agent (script/simulate).
        (
            "You're calling important to us. Please stay on the line and the next available. "
            "Thanks for holding this Assyrian billing. Who am I speaking with today?",
            True,
        ),
        # An announcement over the music running into a technician's greeting (script/simulate).
        (
            "Thank you for holding. I'd technician, fast lane, fast support. You've reached the last "
            "fast lane. What seems to be the problem",
            True,
        ),
        ("Good afternoon, what can I help you with?", True),
        ("Your call is important to us. Please stay on the line.", False),
        (
            "For an outage, press 1. What seems to be the problem? Say it in a few words.",
            False,
        ),
        ("For billing, press 1. How can I help you today?", False),
        # The hold's callback offer, then the agent answering (script/simulate, ironclad).
        (
            "Press nine, now to verify your identity and keep your place in line. To request a "
            "callback, press nine. Ironclad home policies, this is Bea. Who am I speaking with?",
            True,
        ),
        ("Hi, this is Jessica. To request a callback, press 9.", False),
        ("This is a recorded message.", False),
        ("Please continue to hold.", False),
        ("", False),
    ],
)
def test_sounds_like_person(text: str, person: bool) -> None:
    assert sounds_like_person(text) is person
