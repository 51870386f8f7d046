"""The rules decider: the goal's words against the options the menu read out.

Cheap, predictable and private (nothing leaves the house). It answers the common shapes —
"for billing press 1", "enter your account number", "say yes or no", "tell me why you are
calling" — and passes anything it is unsure of to the next decider.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Final

from .decide import Action, DecisionContext, HangUp, Press, Say, Wait
from .menu import MenuOption, Prompt, PromptKind, content_words, keywords, parse_prompt, stem

# Words that mean the same thing on a company's menu (compared as stems).
_SYNONYMS: Final = tuple(
    frozenset(map(stem, group.split()))
    for group in (
        "bill billing pay payment invoice charge balance statement fee",
        "support technical tech help problem issue repair outage fault broken internet down "
        "connect connection wifi signal router working",
        "sales buy purchase upgrade order plan new",
        "card credit debit",
        "lost stolen fraud",
        "cancel cancellation close closing terminate",
        "delivery deliver shipping ship track tracking package parcel",
        "appointment book booking schedule reschedule",
    )
)
# Words that say little about which option serves a goal but are not nothing: "a question about my
# bill" leans to "a question about your bill" over "a payment" even when the bill is misheard.
_WEAK: Final = frozenset(map(stem, "question questions".split()))  # noqa: SIM905
# What a goal that asks only for a person says beside the person ("I want to talk to someone").
_ASKING_FOR: Final = frozenset(map(stem, "talk speak reach get want need hold wait live real".split()))  # noqa: SIM905
_PERSON: Final = frozenset(
    map(stem, "representative agent operator someone person human associate specialist advisor".split())  # noqa: SIM905
)
# What menus call the numbers users name their secrets after ("rx_number" → "prescription").
# How much of a secret's word a misheard one keeps, in order (difflib's ratio): "long" is 0.75 of "loan".
ALIKE: Final = 0.75
_SECRET_ALIASES: Final = {
    "rx": "prescription",
    "dob": "date of birth",
    "birth": "date of birth",
    "pin": "pin password passcode code",
    "password": "password passcode pin",
    "acct": "account",
    "ssn": "social security",
    "zip": "zip postal code",
    "member": "member membership",
    "policy": "policy",
    "order": "order",
}
_NEGATIONS: Final = re.compile(r"\b(?:not|no|never|isn't|aren't|without|except)\b((?:\s+\w+){1,3})")
_REPEAT: Final = frozenset(map(stem, "repeat hear again menu previous main".split()))  # noqa: SIM905
_OTHER: Final = frozenset(map(stem, "other else all anything".split()))  # noqa: SIM905
# A front door that asks for a language ("For English, press 1. Para español, oprima 2."): the
# names a menu uses for each language (compared with accents folded), by the call's language code.
_LANGUAGE_NAMES: Final = {
    code: frozenset(unicodedata.normalize("NFKD", names).encode("ascii", "ignore").decode().split())
    for code, names in {
        "en": "english",
        "es": "spanish español",
        "fr": "french français",
        "de": "german deutsch",
        "it": "italian italiano",
        "pt": "portuguese português",
        "zh": "chinese mandarin cantonese",
        "vi": "vietnamese",
        "ko": "korean",
        "ru": "russian",
        "ar": "arabic",
        "pl": "polish polski",
        "nl": "dutch nederlands",
        "tl": "tagalog filipino",
        "ht": "creole kreyòl",
    }.items()
}
# Words around a language's name in such an option ("to continue in English", "servicio en español").
_FILLER_WORDS: Final = (
    "to in for the en para por favor el la le pour continue continuar language idioma service services "
    "servicio speak speaking please"
)
_LANGUAGE_FILLER: Final = frozenset(_FILLER_WORDS.split())
_YES: Final = "yes"
_NO: Final = "no"


def _expand(stems: frozenset[str]) -> frozenset[str]:
    expanded = set(stems)
    for group in _SYNONYMS:
        if stems & group:
            expanded |= group
    return frozenset(expanded)


def relevance(goal: frozenset[str], label: str) -> float:
    """How well a menu label serves the goal.

    Exact word matches count double synonyms, and a weak word ("question") as much as a synonym;
    among equals, the label with fewer words beside the match wins ("billing" over "new phone"
    for "a question about my phone bill" would tie on one word each, so the share of the label
    that matched decides).
    """
    words = keywords(label)
    if not words:
        return 0.0
    weak = len(goal & words & _WEAK)
    exact = len(goal & words) - weak
    related = len(_expand(goal) & words) - exact - weak
    # Speech recognition mishears single sounds ("milling" for "billing"): a near miss of a
    # long word counts, but less than a synonym.
    near = sum(1 for word in words - goal if len(word) >= 4 and any(_one_edit(word, g) for g in goal))
    matched = exact + weak + related + near
    score = exact * 2.0 + weak + related + near * 0.75
    return score + (matched / len(words)) * 0.5 if matched else 0.0


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1 or a == b or min(len(a), len(b)) < 4:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _fold(text: str) -> str:
    """Lower case without accents ("Español" → "espanol")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def language_of(label: str) -> str | None:
    """The language code an option stands for ("english", "to continue in English" → "en"), if any."""
    words = frozenset(re.findall(r"[a-z]+", _fold(label))) - _LANGUAGE_FILLER
    return next((code for code, names in _LANGUAGE_NAMES.items() if words and words <= names), None)


def _best(goal: frozenset[str], labels: Sequence[str]) -> tuple[int | None, list[int]]:
    """The index of the label that serves the goal best, and the indices tied for best.

    A tie on :func:`relevance` goes to the label matching more of the goal's own words (exact
    over synonyms and near misses: the more specific match). A tie that remains is no answer
    (``None``): the options are equally good guesses, and guessing the first one read out is
    right only by chance. Nothing relevant at all: ``(None, [])``.
    """
    scores = [relevance(goal, label) for label in labels]
    top = max(scores, default=0.0)
    if top <= 0:
        return None, []
    tied = [index for index, score in enumerate(scores) if math.isclose(score, top)]
    if len(tied) == 1:
        return tied[0], tied
    exact = {index: len(goal & keywords(labels[index])) for index in tied}
    most = max(exact.values())
    specific = [index for index in tied if exact[index] == most]
    return (specific[0] if len(specific) == 1 else None), tied


class RulesDecider:
    """Rules first: answer what is obvious, pass the rest.

    A language front door ("For English, press 1. Para español, oprima 2.") gets the key of the
    call's language (``DecisionContext.language``); other menus the option that best serves the
    goal. Options tied for best go to the more specific match (more of the goal's own words);
    a tie that remains is passed to the next decider (a language model, when the chain has one),
    since pressing the first one read out is a coin toss.

    With ``fallback`` (the default) a menu with no matching option, or an unbroken tie, gets the
    last resort — the option for a person or for "all other questions", or saying
    "representative"; a tie with no such option left gets the first of the tied options, named
    as a tie in the reason (waiting cannot help: the line would only repeat itself). A chain that
    has a language model asks it before that: ``RulesDecider(fallback=False)`` first, the model,
    then ``RulesDecider()`` for when the model cannot tell either.
    """

    source = "rules"

    def __init__(self, *, fallback: bool = True) -> None:
        self.fallback = fallback

    async def decide(self, context: DecisionContext) -> Action | None:
        """See the module docstring."""
        prompt = context.prompt
        goal = goal_keywords(context.goal)
        match prompt.kind:
            case PromptKind.DIGITS:
                return self._digits(prompt, context.secret_names)
            case PromptKind.MENU:
                if language := self._language(prompt, context.language):
                    return language
                return self._menu(prompt, goal, context.attempts, fallback=self.fallback)
            case PromptKind.YES_NO:
                return self._confirm(prompt, goal, context)
            case PromptKind.OPEN:
                return Say(
                    key_phrase(context.goal, context.language), reason="an open question: say the goal"
                )
            case _:
                return Wait(reason=f"a {prompt.kind} prompt")

    @staticmethod
    def _confirm(prompt: Prompt, goal: frozenset[str], context: DecisionContext) -> Action:
        """Answer "It sounds like you're calling about billing, is that right?".

        Yes when the line names the goal. No only when it names another choice of the menu we
        just answered: recognisers garble the repeat ("calling a mouth feeling"), and the line
        heard what we said, so anything else is a yes.
        """
        if _expand(goal) & prompt.keywords:
            return Say(_YES, reason="the line repeated the goal back")
        if context.history:
            previous_text, previous = context.history[-1]
            chosen = keywords(previous.text) if isinstance(previous, Say) else frozenset()
            earlier = parse_prompt(previous_text)
            others = [*earlier.spoken_choices, *(option.label for option in earlier.options)]
            if any((keywords(other) - chosen) & prompt.keywords for other in others):
                return Say(_NO, reason="the line named another choice")
        return Say(_YES, reason="the line confirms what we said")

    @staticmethod
    def _digits(prompt: Prompt, secret_names: frozenset[str]) -> Action | None:
        best = matching_secret(prompt, secret_names)
        if best is None:
            return None  # a number we were not given: let a smarter decider or the line decide
        return Press(digits=prompt.terminator, secret=best, reason=f"asked for the {prompt.digits_for}")

    @staticmethod
    def _language(prompt: Prompt, language: str) -> Action | None:
        """The key for the call's language on a language front door; ``None`` on any other menu."""
        wanted = _fold(language).replace("_", "-").split("-")[0]
        for option in prompt.options:
            if language_of(option.label) == wanted:
                return Press(option.key, reason=f"the call's language: '{option.label}'")
        return None

    @staticmethod
    def _menu(prompt: Prompt, goal: frozenset[str], attempts: int, *, fallback: bool) -> Action | None:
        options = _choosable(prompt)
        best, tied = _best(goal, [option.label for option in options])
        if best is not None and attempts < 3:
            return Press(options[best].key, reason=f"goal matches '{options[best].label}'")
        if spoken := RulesDecider._spoken(prompt, goal):
            return spoken
        if not fallback:
            return None
        if last_resort := _fallback_option(options):
            why = "options match the goal alike" if best is None and tied else "no option matches the goal"
            return Press(last_resort.key, reason=f"{why}; '{last_resort.label}'")
        if prompt.spoken_choices and any(keywords(c) & _PERSON for c in prompt.spoken_choices):
            return Say("representative", reason="no choice matches the goal")
        if best is None and tied and attempts < 3:
            names = " and ".join(f"'{options[index].label}'" for index in tied)
            first = options[tied[0]]
            return Press(first.key, reason=f"the goal matches {names} alike; no one to ask: '{first.label}'")
        return None

    @staticmethod
    def _spoken(prompt: Prompt, goal: frozenset[str]) -> Action | None:
        best, _ = _best(goal, prompt.spoken_choices)
        if best is not None:
            choice = prompt.spoken_choices[best]
            return Say(choice, reason=f"goal matches '{choice}'")
        return None


def _choosable(prompt: Prompt) -> list[MenuOption]:
    """A menu's options but those that read it again, by key."""
    return sorted(
        (option for option in prompt.options if not (keywords(option.label) & _REPEAT)),
        key=lambda option: option.key,
    )


def goal_option(prompt: Prompt, goal: str) -> MenuOption | None:
    """The option of the menu ``prompt`` that plainly serves ``goal`` (``None``: no one option does).

    What the rules would press at the first hearing, read by the words alone: one option
    best for the goal, none tied with it; or, for a goal that asks for a person and nothing
    else ("talk to a person"), the option for one.
    """
    if prompt.kind is not PromptKind.MENU:
        return None
    options = _choosable(prompt)
    wanted = goal_keywords(goal)
    best, _ = _best(wanted, [option.label for option in options])
    if best is not None:
        return options[best]
    if wanted & _PERSON and not wanted - _PERSON - _ASKING_FOR:
        return _option_naming(options, _PERSON)
    return None


GIVE_UP_AFTER: Final = 5  # the same menu five times: every strategy (match, last resort, model) failed
MISSING_AFTER: Final = 3  # a number asked for three times: we do not have the one it wants


class StuckGuard:
    """Gives up cleanly where persisting cannot help, before any other decider is asked.

    The ladder before it: the rules' match and the model on the first hearings, the rules' last
    resort from the third (``RulesDecider``), the model told the earlier choice failed.
    """

    source = "navigator"

    async def decide(self, context: DecisionContext) -> Action | None:
        """A hang-up with the reason when the line keeps asking the same thing."""
        prompt = context.prompt
        if prompt.kind is PromptKind.DIGITS and context.attempts >= MISSING_AFTER:
            wanted = prompt.digits_for or "number"
            return HangUp(
                f"the line asked {context.attempts} times for the {wanted}, and this call has no such number"
            )
        if context.attempts >= GIVE_UP_AFTER:
            return HangUp(f"stuck: the line asked the same {prompt.kind} question {context.attempts} times")
        return None


def likely_phrases(goal: str, language: str = "en") -> list[str]:
    """What the rules most often say on a call with this goal (the session synthesises them ahead)."""
    return list(dict.fromkeys([key_phrase(goal, language), goal, _YES, _NO, "representative"]))


def key_phrase(goal: str, language: str = "en") -> str:
    """The goal in a few words, as a spoken front door asks ("in a few words, tell me why you're calling").

    "I lost my driver's license and need a replacement" is "lost driver's license replacement":
    the goal's own meaningful words in their order, which recognisers of such doors key on, said
    in a second instead of three. The goal stays whole where dropping words could change it: a
    negation ("not a password problem"), a language whose function words we do not know, or
    nothing left but one word.
    """
    if not language.lower().startswith("en") or _NEGATIONS.search(goal.lower()):
        return goal
    words = content_words(goal)
    return " ".join(words) if len(words) >= 2 else goal


def goal_keywords(goal: str) -> frozenset[str]:
    """The goal's stems, without what it says it is *not* about.

    "my account is locked, it's not a password problem" must not pick "password resets".
    """
    negated = frozenset().union(*(keywords(match.group(1)) for match in _NEGATIONS.finditer(goal.lower())))
    return keywords(goal) - negated


def matching_secret(prompt: Prompt, secret_names: frozenset[str]) -> str | None:
    """The secret a digit prompt asks for, by the words of its name ("rx_number" → prescription).

    When no name's words are in the prompt, a misheard one may be ("long number" for "loan
    number"): a word that sounds alike (:func:`_sounds_alike`) names the secret only if it
    names exactly one, since keying the wrong number is worse than letting another decide.
    Words are compared as stems.
    """
    wanted = keywords(prompt.digits_for or "")
    best, best_score = None, 0
    for name in sorted(secret_names):
        score = len(wanted & secret_keywords(name))
        if score > best_score:
            best, best_score = name, score
    if best is not None:
        return best
    alike = [
        name
        for name in sorted(secret_names)
        if any(_sounds_alike(word, stem) for word in wanted for stem in secret_keywords(name))
    ]
    return alike[0] if len(alike) == 1 else None


def _sounds_alike(heard: str, word: str) -> bool:
    """A recogniser's near miss of ``word``: its first two letters, and 75 % of it in order.

    ("long" for "loan", "polity" for "policy"); the opening keeps "amount" from passing
    for "account", and short words are too easily alike to tell.
    """
    if min(len(heard), len(word)) < 4 or heard[:2] != word[:2]:
        return False
    return difflib.SequenceMatcher(None, heard, word).ratio() >= ALIKE


def secret_keywords(name: str) -> frozenset[str]:
    """Stems a prompt may use for the secret called ``name`` ("rx_number" → prescription)."""
    words = name.lower().replace("-", "_").split("_")
    expanded = " ".join(_SECRET_ALIASES.get(word, word) for word in words)
    return keywords(expanded) | keywords(" ".join(words))


def _fallback_option(options: list[MenuOption]) -> MenuOption | None:
    """A person, or "all other questions", when nothing matches."""
    return _option_naming(options, _PERSON) or _option_naming(options, _OTHER)


def _option_naming(options: list[MenuOption], words: frozenset[str]) -> MenuOption | None:
    """The first option whose label has one of ``words``."""
    return next((option for option in options if keywords(option.label) & words), None)
