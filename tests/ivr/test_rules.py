"""The rules decider: goals against menus, secrets by name, and passing what it cannot know."""

from __future__ import annotations

import pytest

from custom_components.hold_slayer.ivr.decide import (
    Action,
    ChainDecider,
    DecisionContext,
    HangUp,
    Press,
    Say,
    Wait,
)
from custom_components.hold_slayer.ivr.menu import keywords, parse_prompt, prompt_signature
from custom_components.hold_slayer.ivr.rules import (
    RulesDecider,
    StuckGuard,
    goal_keywords,
    goal_option,
    key_phrase,
    language_of,
    likely_phrases,
    relevance,
    secret_keywords,
)

MENU = (
    "For billing, press 1. For technical support, press 2. For new accounts, press 3. "
    "To repeat these options, press 9."
)


async def _decide(goal: str, text: str, secrets: set[str] | None = None, attempts: int = 1) -> Action | None:
    context = DecisionContext(goal, parse_prompt(text), frozenset(secrets or ()), attempts=attempts)
    return await RulesDecider().decide(context)


@pytest.mark.parametrize(
    ("goal", "key"),
    [
        ("I have a question about my last bill", "1"),
        ("a charge on my statement", "1"),
        ("my internet is down", "2"),
        ("open a new account", "3"),
    ],
)
async def test_goal_picks_the_option(goal: str, key: str) -> None:
    action = await _decide(goal, MENU)
    assert isinstance(action, Press)
    assert action.digits == key


async def test_no_match_falls_back_to_a_person_or_other() -> None:
    action = await _decide("lost my dog", "For sales, press 1. To speak to a representative, press 0.")
    assert action == Press("0", reason="no option matches the goal; 'to speak to a representative'")
    action = await _decide("lost my dog", "For sales, press 1. For all other questions, press 5.")
    assert isinstance(action, Press)
    assert action.digits == "5"
    assert await _decide("lost my dog", "For sales, press 1. For billing, press 2.") is None


async def test_repeated_menu_gives_up_on_the_match() -> None:
    menu = "For billing, press 1. For anything else, press 0."
    first = await _decide("my bill", menu)
    third = await _decide("my bill", menu, attempts=3)
    assert isinstance(first, Press)
    assert isinstance(third, Press)
    assert (first.digits, third.digits) == ("1", "0")


async def test_digits_from_the_matching_secret() -> None:
    text = "Please enter your ten digit account number, followed by the pound key."
    action = await _decide("my bill", text, {"pin", "account_number"})
    assert action == Press("#", secret="account_number", reason="asked for the account number")
    assert await _decide("my bill", text, {"pin"}) is None  # not given: someone else decides


@pytest.mark.parametrize(
    ("heard", "secret"),
    [
        ("Please enter your long number, followed by the pound key.", "loan_number"),  # "loan"
        ("Please enter your polity number, followed by the pound key.", "policy_number"),
        # Not near enough, or near two: another decider (or the caller) says.
        ("Please enter the amount, followed by the pound key.", None),
        ("Please enter your member number, followed by the pound key.", None),
    ],
)
async def test_a_misheard_secret_name_still_finds_the_one_secret(heard: str, secret: str | None) -> None:
    action = await _decide("my mortgage", heard, {"loan_number", "account_number", "policy_number"})
    assert (action.secret if isinstance(action, Press) else None) == secret


async def test_speech_answers() -> None:
    door = (
        "In a few words, tell me what you're calling about. For example, you can say billing, "
        "or new phone, or technical support."
    )
    assert await _decide("billing question about my phone bill", door) == Say(
        "billing", reason="goal matches 'billing'"
    )
    confirm = "It sounds like you're calling about billing. Is that right? Say yes or no."
    assert await _decide("my phone bill", confirm) == Say("yes", reason="the line repeated the goal back")
    # We said "technical support"; the line confirms billing, which the menu offered too: no.
    door_answered = DecisionContext(
        "my internet is down", parse_prompt(confirm), history=((door, Say("technical support")),)
    )
    assert await RulesDecider().decide(door_answered) == Say("no", reason="the line named another choice")
    # We said "billing"; the recogniser garbled the repeat: trust what the line heard.
    garbled = "It sounds like you're calling a mouth feeling. Is that right? Say yes or no."
    answered = DecisionContext("my phone bill", parse_prompt(garbled), history=((door, Say("billing")),))
    assert await RulesDecider().decide(answered) == Say("yes", reason="the line confirms what we said")
    action = await _decide("my router keeps dropping", "Briefly tell us why you are calling.")
    assert action == Say("router keeps dropping", reason="an open question: say the goal")
    assert isinstance(await _decide("x", "Thank you for calling."), Wait)


async def test_function_words_make_no_match() -> None:
    """ "from" in the goal is no reason to switch carriers; the invoice is about billing."""
    menu = "To transfer your service from another provider, press 1. For billing, press 2."
    action = await _decide("I'm calling from Denver about an invoice", menu)
    assert isinstance(action, Press)
    assert action.digits == "2"
    assert relevance(goal_keywords("calling from work"), "to switch from another carrier") == 0


async def test_a_tie_goes_to_the_more_specific_match() -> None:
    # Two synonyms of "bill" score as much as the word itself; the goal's own word is the more
    # specific match (the first option read out used to win).
    goal = goal_keywords("my bill")
    assert relevance(goal, "payments and invoices") == relevance(goal, "bills")
    action = await _decide("my bill", "For payments and invoices, press 1. For bills, press 2.")
    assert action == Press("2", reason="goal matches 'bills'")


async def test_an_unbroken_tie_is_not_guessed() -> None:
    """Equally good options pass to the next decider; the last resort prefers a person."""
    tie = "For credit cards, press 1. For debit cards, press 2."
    context = DecisionContext("a question about my cards", parse_prompt(tie))
    assert await RulesDecider(fallback=False).decide(context) is None
    with_person = tie + " To speak with a representative, press 0."
    action = await _decide("a question about my cards", with_person)
    assert isinstance(action, Press)
    assert action.digits == "0"
    # Nobody to ask and no one to take it: the first of the tied, said to be a tie.
    action = await _decide("a question about my cards", tie)
    assert isinstance(action, Press)
    assert action.digits == "1"
    assert "alike" in action.reason
    # The model breaks it when the chain has one.
    chain = ChainDecider([RulesDecider(fallback=False), _Fixed(Press("2")), RulesDecider()])
    assert await chain.decide(context) == Press("2", source="model")
    # Spoken choices tie the same way.
    spoken = "You can say credit cards, or debit cards."
    assert (
        await RulesDecider(fallback=False).decide(DecisionContext("my cards", parse_prompt(spoken))) is None
    )


@pytest.mark.parametrize(
    ("text", "language", "key"),
    [
        ("For English, press 1. Para español, oprima 2.", "en", "1"),
        ("Para español, oprima el uno. For English, press two.", "en", "2"),
        ("Para español, oprima el uno. For English, press two.", "en-US", "2"),
        ("For English, press 1. Para español, oprima 2.", "es", "2"),
        (
            "To continue in English, press 1. Pour le français, appuyez sur le 2. For Spanish, press 3.",
            "es",
            "3",
        ),
    ],
)
async def test_a_language_front_door_gets_the_calls_language(text: str, language: str, key: str) -> None:
    context = DecisionContext("a question about my bill", parse_prompt(text), language=language)
    action = await RulesDecider(fallback=False).decide(context)
    assert isinstance(action, Press)
    assert action.digits == key
    assert "language" in action.reason


async def test_a_language_not_offered_is_no_language_choice() -> None:
    text = "Para español, oprima 1. For billing, press 2."
    context = DecisionContext("my bill", parse_prompt(text), language="fr")
    assert await RulesDecider().decide(context) == Press("2", reason="goal matches 'billing'")
    assert language_of("spanish speaking billing") is None
    assert language_of("to continue in English") == "en"
    assert language_of("para español") == "es"
    assert language_of("Pour le français") == "fr"


async def test_an_either_or_question_is_answered_with_the_choice() -> None:
    goal = "I have a question about my water bill"
    question = "Billing. Are you calling about a payment, or a question about your bill?"
    assert await _decide(goal, question) == Say(
        "question about your bill", reason="goal matches 'question about your bill'"
    )
    # The recogniser lost "bill": the goal's question still outweighs a payment (only a synonym).
    garbled = "Billing. Are you calling your mouth a payment or a question about your meal?"
    assert await _decide(goal, garbled) == Say(
        "question about your meal", reason="goal matches 'question about your meal'"
    )
    # A weak word never beats the goal's own subject.
    assert await _decide("a question about my bill", "Is this about your bill, or another question?") == Say(
        "your bill", reason="goal matches 'your bill'"
    )


def test_relevance_prefers_exact_and_specific() -> None:
    goal = keywords("billing question about my phone bill")
    assert relevance(goal, "billing") > relevance(goal, "new phone") > 0
    assert relevance(goal, "payments") > 0  # a synonym
    assert relevance(goal, "") == 0


class _Fixed:
    costly = True
    source = "model"

    def __init__(self, action: Action | None) -> None:
        self.action = action
        self.asked = 0

    async def decide(self, context: DecisionContext) -> Action | None:
        self.asked += 1
        return self.action


async def test_chain_asks_in_order_and_counts_the_costly_calls() -> None:
    second = _Fixed(Press("4"))
    chain = ChainDecider([RulesDecider(), second])
    context = DecisionContext("x", parse_prompt(MENU))
    assert await chain.decide(context) == Press("4", source="model")  # rules passed: nothing matches "x"
    context = DecisionContext("billing", parse_prompt(MENU))
    assert await chain.decide(context) == Press("1", reason="goal matches 'billing'", source="rules")
    assert (second.asked, chain.calls) == (1, 1)
    assert await ChainDecider([_Fixed(None)]).decide(context) is None


async def test_near_misses_of_speech_recognition() -> None:
    menu = "For milling, press 1. For technical support, press 2."
    action = await _decide("a charge on my last bill", menu)
    assert isinstance(action, Press)
    assert action.digits == "1"
    assert relevance(keywords("billing"), "milling") < relevance(keywords("billing"), "payments")


async def test_what_the_goal_is_not_about() -> None:
    goal = "my account is locked and it's not a password problem"
    assert goal_keywords(goal) == {"account", "lock"}
    action = await _decide(goal, "For password resets, press 1. For anything else, press 2.")
    assert isinstance(action, Press)
    assert action.digits == "2"


@pytest.mark.parametrize(
    ("prompt", "secrets", "secret", "terminator"),
    [
        (
            "Enter your prescription number, followed by the pound key.",
            {"rx_number", "birth_date"},
            "rx_number",
            "#",
        ),
        (
            "Enter your date of birth as eight digits, month, day and year.",
            {"rx_number", "birth_date"},
            "birth_date",
            "",
        ),
        ("Please enter your password followed by the pound key.", {"pin"}, "pin", "#"),
        ("Please enter your PIN.", {"account_number", "pin"}, "pin", ""),
    ],
)
async def test_secret_names_users_choose(
    prompt: str, secrets: set[str], secret: str, terminator: str
) -> None:
    action = await _decide("refill my prescription", prompt, secrets)
    assert action == Press(terminator, secret=secret, reason=action.reason if action else "")
    assert secret_keywords("rx_number") >= {"prescription", "rx"}


async def test_garbled_menu_still_matches_the_goal() -> None:
    text = (
        "And before coming back, you didn't press one. Check your account number is been claimed. Press two."
    )
    action = await _decide("check on my existing auto claim", text)
    assert isinstance(action, Press)
    assert action.digits == "2"


async def test_the_guard_gives_up_where_persisting_cannot_help() -> None:
    guard = StuckGuard()
    menu = parse_prompt(MENU)
    assert await guard.decide(DecisionContext("x", menu, attempts=4)) is None
    stuck = await guard.decide(DecisionContext("x", menu, attempts=5))
    assert stuck == HangUp("stuck: the line asked the same menu question 5 times")
    member = parse_prompt("Please enter your member ID, followed by the pound key.")
    assert await guard.decide(DecisionContext("x", member, attempts=2)) is None
    missing = await guard.decide(DecisionContext("x", member, attempts=3))
    assert isinstance(missing, HangUp)
    assert "member id" in missing.reason


def test_a_menu_asked_again_is_the_same_question() -> None:
    again = parse_prompt("That is not a valid option. " + MENU)
    assert prompt_signature(again) == prompt_signature(parse_prompt(MENU))
    assert prompt_signature(parse_prompt("For sales, press 1.")) != prompt_signature(parse_prompt(MENU))
    digits = "Please enter your ten digit account number, followed by the pound key."
    assert prompt_signature(parse_prompt("Sorry. " + digits)) == prompt_signature(parse_prompt(digits))


def test_an_open_question_gets_the_goal_in_a_few_words() -> None:
    """A spoken front door asks for a few words: the goal's meaningful ones, in its order."""
    assert (
        key_phrase("I lost my driver's license and need a replacement") == "lost driver's license replacement"
    )
    assert key_phrase("I have a question about my water bill") == "question water bill"
    # Whole where dropping words could change it: a negation, another language, one word left.
    negated = "my account is locked, it's not a password problem"
    assert key_phrase(negated) == negated
    assert (
        key_phrase("Quiero hablar con un agente sobre mi factura", "es")
        == "Quiero hablar con un agente sobre mi factura"
    )
    assert key_phrase("where is my order") == "where is my order"
    assert likely_phrases("I have a question about my water bill")[:2] == [
        "question water bill",
        "I have a question about my water bill",
    ]


@pytest.mark.parametrize(
    ("text", "goal", "key"),
    [
        (MENU, "a question about my bill", "1"),
        (MENU, "my internet is down, tech support", "2"),
        (MENU, "repeat", None),  # the option that reads the menu again is no choice
        ("For billing, press 1. For billing disputes, press 2.", "billing", "1"),  # more specific
        ("For home billing, press 1. For business billing, press 2.", "billing", None),  # a tie
        ("For sales, press 1. For accounting, press 2.", "order some paper", "1"),  # a synonym
        ("For sales, press 1. For accounting, press 2.", "lost luggage", None),  # nothing named
        ("Please enter your account number, followed by the pound key.", "billing", None),
        ("Oscorp. To speak with someone, press 0.", "talk to a person", "0"),  # a person, only
        ("For sales, press 1. For an agent, press 0.", "I want to speak to a real human", "0"),
        ("For sales, press 1. For an agent, press 0.", "talk to a person about my car", None),
    ],
)
def test_the_option_a_menus_words_plainly_offer_for_the_goal(text: str, goal: str, key: str | None) -> None:
    option = goal_option(parse_prompt(text), goal)
    assert (option.key if option else None) == key
