"""Menu parsing: the phrasings real IVRs use, as speech recognition writes them."""

from __future__ import annotations

import pytest

from custom_components.hold_slayer.ivr.menu import (
    MenuOption,
    PromptKind,
    callback_key,
    closed_notice,
    keywords,
    likeness,
    normalise,
    parse_prompt,
    stem,
)

BILLING_MENU = "For billing, press 1. For technical support, press 2. To repeat these options, press 9."
EXPECTED = (
    MenuOption("1", "billing"),
    MenuOption("2", "technical support"),
    MenuOption("9", "to repeat these options"),
)


@pytest.mark.parametrize(
    "text",
    [
        BILLING_MENU,
        "for billing press one for technical support press two to repeat these options press nine",
        "Press 1 for billing. Press 2 for technical support. Press 9 to repeat these options.",
        "For billing, say billing or press 1. For technical support, say support or press 2. "
        "To repeat these options, press 9.",
    ],
)
def test_options_either_way_round(text: str) -> None:
    prompt = parse_prompt(text)
    assert prompt.kind is PromptKind.MENU
    assert [o.key for o in prompt.options] == ["1", "2", "9"]
    assert prompt.options[0].label == "billing"
    assert prompt.options[1].label.endswith("support")


def test_menu_labels() -> None:
    assert parse_prompt(BILLING_MENU).options == EXPECTED
    prompt = parse_prompt(
        "If you are calling about a lost or stolen card, press 3. For anything else, press 0."
    )
    assert prompt.options == (MenuOption("0", "anything else"), MenuOption("3", "a lost or stolen card"))
    assert parse_prompt("Press star to go back. Press pound to finish.").options == (
        MenuOption("#", "to finish"),
        MenuOption("*", "to go back"),
    )


@pytest.mark.parametrize(
    ("text", "what", "length", "terminator"),
    [
        ("Please enter your ten digit account number, followed by the pound key.", "account number", 10, "#"),
        ("Please enter your 10-digit account number followed by the pound sign.", "account number", 10, "#"),
        ("Enter your PIN, then press hash.", "pin", None, "#"),
        ("Please enter your date of birth.", "date of birth", None, ""),
    ],
)
def test_digit_prompts(text: str, what: str, length: int | None, terminator: str) -> None:
    prompt = parse_prompt(text)
    assert prompt.kind is PromptKind.DIGITS
    assert (prompt.digits_for, prompt.digits_length, prompt.terminator) == (what, length, terminator)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Thank you for calling Acme Bank. This call may be recorded.", PromptKind.STATEMENT),
        ("Your call is important to us. Please stay on the line.", PromptKind.HOLD),
        ("Thank you. We will keep your place in line.", PromptKind.HOLD),
        # tiny.en's reading of lakeside's announcement, "... Please stay on the line."
        ("All of our customers are determined to implement them. Please pay on the lines.", PromptKind.HOLD),
        ("Please pay on the line.", PromptKind.HOLD),
        ("Please, are you on the line?", PromptKind.STATEMENT),
        ("It sounds like you're calling about billing. Is that right? Say yes or no.", PromptKind.YES_NO),
        ("Briefly tell us why you are calling.", PromptKind.OPEN),
        ("In a few words, what are you calling about?", PromptKind.OPEN),
    ],
)
def test_prompt_kinds(text: str, kind: PromptKind) -> None:
    assert parse_prompt(text).kind is kind


def test_speech_front_door() -> None:
    prompt = parse_prompt(
        "Welcome to Northwind Mobile. In a few words, tell me what you're calling about. "
        "For example, you can say billing, or new phone, or technical support."
    )
    assert prompt.kind is PromptKind.MENU
    assert prompt.spoken_choices == ("billing", "new phone", "technical support")


@pytest.mark.parametrize(
    ("text", "position"),
    [("You are caller number 5.", 5), ("You're the third caller.", None), ("You are caller 12 in line", 12)],
)
def test_queue_position(text: str, position: int | None) -> None:
    assert parse_prompt(text).queue_position == position


def test_normalise_and_stems() -> None:
    assert normalise("Press ONE, then the pound key.") == "press 1, then the #."
    assert stem("billing") == stem("bills") == stem("bill") == "bill"
    assert stem("services") == stem("service")
    assert stem("shipping") == "ship"
    assert stem("deliveries") == "delivery"
    assert keywords("I have a question about my last bill") == {"question", "last", "bill"}


@pytest.mark.parametrize(
    ("text", "choices"),
    [
        (
            "Billing. Are you calling about a payment, or a question about your bill?",
            ("payment", "question about your bill"),
        ),
        (
            "Would you like to pay a bill, start service, or report an outage?",
            ("pay a bill", "start service", "report an outage"),
        ),
        ("Is this about an existing order or a new order?", ("existing order", "new order")),
    ],
)
def test_an_either_or_question_is_a_spoken_menu(text: str, choices: tuple[str, ...]) -> None:
    prompt = parse_prompt(text)
    assert (prompt.kind, prompt.spoken_choices) == (PromptKind.MENU, choices)


def test_a_question_with_no_choices_is_no_menu() -> None:
    assert parse_prompt("Is that right? Say yes or no.").kind is PromptKind.YES_NO
    assert parse_prompt("Are you calling from the number on your account?").kind is PromptKind.STATEMENT


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("Your estimated wait time is approximately 12 minutes.", 12),
        ("The current hold time is less than five minutes.", 5),
        ("Please hold.", None),
    ],
)
def test_estimated_wait(text: str, minutes: int | None) -> None:
    prompt = parse_prompt(text)
    assert prompt.estimated_wait == minutes
    assert prompt.kind is PromptKind.HOLD


def test_misheard_menu() -> None:
    """What tiny.en wrote for a real espeak menu through G.711 (see script/simulate)."""
    prompt = parse_prompt(
        "Thank you for calling at me man.  This call may be recorded for quality person, for milling, "
        "press one, for technical support, press two. For lots of thousand cards, press free. "
        "To repeat the motion, press I."
    )
    assert [(o.key, o.label) for o in prompt.options] == [
        ("1", "milling"),
        ("2", "technical support"),
        ("3", "lots of thousand cards"),
    ]


def test_digit_count_later_in_the_sentence() -> None:
    prompt = parse_prompt("Enter your date of birth as eight digits, month, day and year.")
    assert (prompt.kind, prompt.digits_for, prompt.digits_length) == (PromptKind.DIGITS, "date of birth", 8)


@pytest.mark.parametrize(
    "text",
    [
        "Please say or enter your date of birth as eight digits.",
        # What a recogniser writes for it: "as" heard as "is".
        "Please say or enter your date of birth is eight digits.",
        "please say or enter your date of birth 8 digits",
    ],
)
def test_say_or_enter_a_date_of_birth(text: str) -> None:
    prompt = parse_prompt(text)
    assert (prompt.kind, prompt.digits_for, prompt.digits_length) == (PromptKind.DIGITS, "date of birth", 8)


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("For English, press 1. Para español, oprima 2.", [("1", "english"), ("2", "español")]),
        ("Para español, oprima el uno. For English, press two.", [("1", "español"), ("2", "english")]),
        ("for english press one para espanol oprima dos", [("1", "english"), ("2", "espanol")]),
    ],
)
def test_bilingual_front_door(text: str, options: list[tuple[str, str]]) -> None:
    """The Spanish half ("para español, oprima 2") is an option too, Spanish key words included."""
    prompt = parse_prompt(text)
    assert prompt.kind is PromptKind.MENU
    assert [(o.key, o.label) for o in prompt.options] == options


def test_function_words_are_not_keywords() -> None:
    text = "calling from home, can you check if my payment was received"
    assert keywords(text) == {stem(word) for word in ("home", "check", "payment", "received")}


def test_option_after_a_garbled_label() -> None:
    """A recogniser's "Check your account number is been claimed. Press two." still names 2."""
    prompt = parse_prompt(
        "And before coming back, you didn't press one. Check your account number is been claimed. Press two."
    )
    assert prompt.options[1] == MenuOption("2", "check your account number is been claimed")


@pytest.mark.parametrize(
    "text",
    [
        "Please continue to hold.",
        "Our wait times are longer than usual.",
        "We are experiencing a high call volume.",
        "A representative will be with you shortly.",
    ],
)
def test_hold_messages(text: str) -> None:
    assert parse_prompt(text).kind is PromptKind.HOLD


def test_misheard_digit_count() -> None:
    prompt = parse_prompt("Please enter your eight biggest policy number.")
    assert (prompt.kind, prompt.digits_for, prompt.digits_length) == (PromptKind.DIGITS, "policy number", 8)


_MENU = "For billing, press 1. For technical support, press 2."
_ACCOUNT = "Please enter your ten digit account number, followed by the pound key."


def test_likeness() -> None:
    assert likeness(_MENU, _MENU) == 1.0
    assert likeness(_MENU, "For billing press one. For technical support press two.") >= 0.6
    assert likeness(_MENU, _ACCOUNT) < 0.2
    assert likeness("", "") == 1.0
    assert likeness("", _MENU) == 0.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("To request a callback instead of holding, press 2.", "2"),
        ("If you would like us to call you back, press 9.", "9"),
        ("Please stay on the line, or press 9 to be called back.", "9"),
        ("To have us call you as soon as an agent is free, press 3.", "3"),
        ("For billing, press 1. To return to the main menu, press 9.", None),
    ],
)
def test_callback_offers_by_their_words(text: str, key: str | None) -> None:
    assert callback_key(parse_prompt(text)) == key


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        ("Our offices are closed today for the holiday. We will reopen tomorrow at eight. Goodbye.", True),
        ("You have reached us outside our normal business hours. Please call back between 8 and 5.", True),
        ("Thank you for calling. We're currently closed; please try again during business hours.", True),
        ("Our offices are closed. For gas emergencies, press 1.", False),  # a choice is still offered
        ("All of our agents are busy. Please stay on the line.", False),
        ("The store closes at nine tonight. For the pharmacy, press 2.", False),
    ],
)
def test_closed_notices(text: str, closed: bool) -> None:
    assert closed_notice(parse_prompt(text)) is closed


def test_hang_up_and_dial_is_no_option() -> None:
    prompt = parse_prompt(
        "The clinic is now closed. If this is a medical emergency, hang up and dial 9 1 1. Goodbye."
    )
    assert prompt.options == ()
    assert closed_notice(prompt)


def test_a_key_is_no_option_s_label() -> None:
    """A recogniser primed with a menu hears a person's "Fastlane tech support" as "press nine,
    press four" (globex, fastlane): no option offers "press 9"."""
    assert parse_prompt("Press nine, press four. What seems to be the problem?").options == ()
    assert [option.key for option in parse_prompt("For sales, press 1. Press 2.").options] == ["1"]
