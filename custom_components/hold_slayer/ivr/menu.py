"""Read a phone menu's words: options ("for billing, press 1"), digit prompts, questions.

Prompts come from speech recognition, so the parser is forgiving: number words and digits are
the same, punctuation is optional, and an option may be phrased either way round ("press 1 for
billing", "for billing press 1", "if you are calling about billing, press 1", "say billing or
press 1").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

_NUMBER_WORDS: Final = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "star": "*",
    "pound": "#",
    "hash": "#",
}
_KEY: Final = r"(?P<key>\d|\*|#)"
# Spanish verbs too: bilingual lines say "para español, oprima 2" on the same front door.
_PRESS: Final = (
    r"(?:press|push|dial|enter|select|choose|oprima|marque|presione|pulse)(?: the| el)?(?: number| número)?"
)
_CLAUSE_SPLIT: Final = re.compile(r"(?<=[.;!?])\s+|\s*\n\s*")
# A label never runs across another "for"/"press": recognisers drop sentence breaks, and
# "... recorded for quality, for billing press 1" must give "billing", not the whole tail.
_LABEL: Final = r"(?P<label>(?:(?!\bfor\b|\bpress\b)[^.;])+?)"
_OPTION_PATTERNS: Final = (
    # "for billing, press 1" / "to hear them again press 9" / "if you're calling about X press 1"
    re.compile(
        rf"(?:^|[,.;]\s*|\b)(?P<lead>for|to|para|"
        rf"if you(?: are|'re)? (?:calling )?(?:about|for|regarding|with)?|"
        rf"if you (?:would like|want|wish|need) to)\s+{_LABEL},?\s+(?:please )?"
        rf"(?:say [^.;]*? or )?{_PRESS}\s+{_KEY}(?!\d)"
    ),
    # "press 1 for billing" / "press 2 to speak to someone"
    re.compile(rf"{_PRESS}\s+{_KEY}(?!\d)\s+(?P<lead>for|to|if)\s+(?P<label>[^.;,]+)"),
    # Last resort, for words a recogniser garbled: "<anything>, press 2" names option 2.
    re.compile(
        rf"(?:^|[.;!?]\s*)(?P<lead>)(?P<label>[^.;!?]{{3,80}}?)[,.]?\s+(?:please )?{_PRESS}\s+{_KEY}(?!\d)"
    ),
)
# What speech recognisers write for a key right after "press" ("press free" is "press three").
_KEY_HOMOPHONES: Final = {
    "won": "1",
    "to": "2",
    "too": "2",
    "free": "3",
    "tree": "3",
    "for": "4",
    "fore": "4",
    "ate": "8",
    "nein": "9",
    "hash": "#",
    "pound": "#",
    "cero": "0",
    "uno": "1",
    "dos": "2",
    "tres": "3",
    "cuatro": "4",
    "cinco": "5",
    "seis": "6",
    "siete": "7",
    "ocho": "8",
    "nueve": "9",
}
_SPEECH_CHOICES: Final = re.compile(r"\b(?:you can |please )?say\s+(?P<choices>[^.;?]+)")
# An either-or question is a spoken menu: "are you calling about a payment, or a question about
# your bill?", "would you like to pay a bill or report an outage?".
_EITHER_OR: Final = re.compile(
    r"\b(?:are you calling|is (?:this|it|your call)|do you (?:want|need|have)|would you like)"
    r"(?: (?:about|regarding|for|with|to))?\s+(?P<choices>[^.;?!]+?\bor\b[^.;?!]+)\?"
)
_DIGIT_PROMPT: Final = re.compile(
    r"\b(?:enter|key in|type|input|say or enter|please enter)\s+(?:your|the)\s+"
    # "8-digit", or what a recogniser makes of it ("eight biggest"): a count, then one word.
    r"(?:(?P<length>\d+)[ -](?:digit|[a-z]+)\s+)?(?P<what>[a-z ]+?)"
    # "... date of birth as 8 digits", which recognisers also write "... is 8 digits".
    r"(?=,|\.|$| followed| then| and| using| on| as| is| in| with| now| please| \d)"
)
_TERMINATOR: Final = re.compile(r"followed by (?:the )?(?P<key>#|\*)|(?:then|and) press (?P<key2>#|\*)")
_YES_NO: Final = re.compile(r"\b(?:say|answer) yes or no\b|\bis that (?:right|correct)\b")
_OPEN_QUESTION: Final = re.compile(
    r"\b(?:tell me|describe|in a few words|what (?:are|is) (?:you|your call) (?:calling )?about|"
    r"(?:briefly )?(?:say|tell us) (?:why|what) you(?:'re| are) calling)"
)
_HOLD_WORDS: Final = re.compile(
    r"\b(?:please hold|please continue to hold|continue to hold|remain on hold|hold the line|"
    r"please wait|stay on the line|remain on the line|your call is important|"
    # "Please stay on the line" as a small recogniser hears it down a phone line ("please pay on
    # the lines"): one word between them is always the hold's request.
    r"please \w+ on the lines?|"
    r"wait times? (?:is|are)|call volume|answered shortly|with you shortly|experiencing|"
    r"next available|all of our|currently (?:assisting|helping)|in the order (?:it was|they were) received|"
    r"estimated wait|caller number|thank you for (?:your patience|holding|waiting)|"
    r"(?:keep|hold|lose) your place|your place in (?:line|the queue))"
)
_QUEUE_POSITION: Final = re.compile(
    r"\b(?:you are|you're) (?:caller )?(?:number )?(?P<n>\d+)(?:st|[nr]d|th)?\b"
)
_ESTIMATED_WAIT: Final = re.compile(
    r"\b(?:wait|hold)(?:ing)? time (?:is |of |will be )?(?:approximately |about |around |less than |under )?"
    r"(?P<n>\d+) minutes?"
)
# Function words never make a match ("calling from home" is not "to switch from another
# carrier"); words that carry a choice ("all", "other", "new", "no", "up") are not among them.
_STOPWORDS: Final = frozenset(
    """a an the and or of for to with about my your our i me is are am be it this that on in at
    please want would like need have has some any call calling press say
    option options number not it's its i'm from by as if you you're we we're us so do does did
    was were will can could should just also but than then there these those they them their
    i've i'd what which who whom when where how why""".split()  # noqa: SIM905 - a word list reads better as text
)


class PromptKind(StrEnum):
    """What a prompt asks of the caller."""

    MENU = "menu"  # options to choose by key or by word
    DIGITS = "digits"  # enter a number (account, PIN, date of birth ...)
    YES_NO = "yes_no"  # confirm
    OPEN = "open"  # "tell me in a few words why you are calling"
    HOLD = "hold"  # a hold message: nothing to do
    STATEMENT = "statement"  # anything else (welcome, legal notice ...)


# Prompts that ask something of the caller (the rest only tell).
ASKING: Final = frozenset({PromptKind.MENU, PromptKind.DIGITS, PromptKind.YES_NO, PromptKind.OPEN})


@dataclass(frozen=True, slots=True)
class MenuOption:
    """One choice: the key that selects it and the words that describe it."""

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """A parsed prompt."""

    text: str
    kind: PromptKind
    options: tuple[MenuOption, ...] = ()
    spoken_choices: tuple[str, ...] = ()
    digits_for: str | None = None  # "account number"
    digits_length: int | None = None
    terminator: str = ""
    queue_position: int | None = None
    estimated_wait: int | None = None  # minutes, when the line says so
    keywords: frozenset[str] = field(default_factory=frozenset)


def normalise(text: str) -> str:
    """Lower case, number words as digits, "pound key" as "#", spaces collapsed."""
    # "six-digit" is "6-digit": number words inside hyphenated words count too.
    words = re.sub(r"[^\w'#*.,;?!-]+", " ", text.lower()).replace("-", " - ").split()
    out = []
    for word in words:
        core = word.strip(".,;?!")
        out.append(word.replace(core, _NUMBER_WORDS[core]) if core in _NUMBER_WORDS else word)
    joined = " ".join(out).replace(" - ", "-")
    joined = re.sub(
        r"\b(press|push|dial|oprima|marque|presione|pulse)((?: el)?) (\w+)\b",
        lambda m: f"{m.group(1)}{m.group(2)} {_KEY_HOMOPHONES.get(m.group(3), m.group(3))}",
        joined,
    )
    joined = re.sub(r"(#|\*) (?:key|sign|button)\b", r"\1", joined)
    return re.sub(r"(\d)-(?=digit)", r"\1 ", joined).replace(" digit", "-digit")


def stem(word: str) -> str:
    """A crude English stem: "billing", "bills" and "bill" meet; so do "services", "service"."""
    word = word.lower().strip("'")
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("ing", "ed")):
        word = word[: -3 if word.endswith("ing") else -2]
        if word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]  # shipping → ship, but billing → bill
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def keywords(text: str) -> frozenset[str]:
    """Stems of the meaningful words."""
    return frozenset(
        stem(word)
        for word in re.findall(r"[a-z']+", text.lower())
        if word not in _STOPWORDS and len(word) > 1
    )


def content_words(text: str) -> list[str]:
    """The meaningful words of ``text`` in their order and spelling (function words dropped)."""
    return [
        word
        for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9']*", text)
        if word.lower() not in _STOPWORDS and len(word) > 1
    ]


def _clean_label(label: str) -> str:
    label = re.sub(r"^(?:calling )?(?:about|for|regarding|with)\s+", "", label.strip(" ,"))
    return label.strip(" ,")


# "If this is an emergency, hang up and dial 9 1 1": a number to call, not a key to press here.
_HANG_UP_FIRST: Final = re.compile(r"\bhang up\b")
# "Press 9, press 4": a key is no option's label (heard so when the recogniser, primed with a
# menu, mishears a person's "Fastlane tech support").
_KEY_AS_LABEL: Final = re.compile(r"(?:press|dial|enter|select)\s+\S+")
_CLOSED: Final = re.compile(
    r"\b(?:(?:we are|we're|office is|offices are|lines are|clinic is|center is|centre is|store is)"
    r" (?:now |currently )?closed"
    r"|closed (?:today|now|for the (?:day|night|holiday|holidays|weekend))"
    r"|outside (?:of )?(?:our )?(?:normal |regular )?(?:business|office|opening) hours"
    r"|(?:call|try) (?:us )?(?:back|again) during (?:our )?(?:normal |regular )?"
    r"(?:business|office|opening) hours)\b"
)


def closed_notice(prompt: Prompt) -> bool:
    """Whether the line says it is closed and offers nothing to press ("we are closed today")."""
    return not prompt.options and bool(_CLOSED.search(normalise(prompt.text)))


# One transcript is read by the session, the hold judge, the navigator and the person check, and
# a route compares it again: parsed once (a Prompt is immutable, so sharing it is safe).
@functools.lru_cache(maxsize=256)
def parse_prompt(text: str) -> Prompt:
    """Parse what the line said since the last action."""
    norm = normalise(text)
    options: dict[str, MenuOption] = {}
    # The phrasings within a clause first, then the last-resort pattern across clauses (its
    # label may be the sentence before a lone "Press two.").
    passes = [(pattern, _CLAUSE_SPLIT.split(norm)) for pattern in _OPTION_PATTERNS[:2]]
    passes.append((_OPTION_PATTERNS[2], [norm]))
    for pattern, parts in passes:
        for part in parts:
            for match in pattern.finditer(part):
                key = match.group("key")
                label = _clean_label(match.group("label"))
                if pattern is _OPTION_PATTERNS[2]:
                    label = re.sub(r"^(?:for|to)\s+", "", label)
                if match.group("lead") == "to":
                    label = f"to {label}"
                if (
                    key not in options
                    and label
                    and not _HANG_UP_FIRST.search(label)
                    and not _KEY_AS_LABEL.fullmatch(label)
                ):
                    options[key] = MenuOption(key, label)
    spoken = _spoken_choices(norm)
    queue = _QUEUE_POSITION.search(norm)
    position = int(queue.group("n")) if queue and "caller" in norm else None
    wait = _ESTIMATED_WAIT.search(norm)
    common = {
        "text": text,
        "queue_position": position,
        "estimated_wait": int(wait.group("n")) if wait else None,
        "keywords": keywords(text),
    }
    if digits := _DIGIT_PROMPT.search(norm):
        terminator = _TERMINATOR.search(norm)
        return Prompt(
            kind=PromptKind.DIGITS,
            digits_for=digits.group("what").strip(),
            digits_length=_length(digits, norm),
            terminator=(terminator.group("key") or terminator.group("key2")) if terminator else "",
            **common,  # type: ignore[arg-type]
        )
    if options or (spoken and not _YES_NO.search(norm)):
        return Prompt(
            kind=PromptKind.MENU,
            options=tuple(sorted(options.values(), key=lambda o: o.key)),
            spoken_choices=spoken,
            **common,  # type: ignore[arg-type]
        )
    if _YES_NO.search(norm):
        return Prompt(kind=PromptKind.YES_NO, spoken_choices=spoken, **common)  # type: ignore[arg-type]
    if _OPEN_QUESTION.search(norm):
        return Prompt(kind=PromptKind.OPEN, spoken_choices=spoken, **common)  # type: ignore[arg-type]
    if _HOLD_WORDS.search(norm) or position is not None or wait is not None:
        return Prompt(kind=PromptKind.HOLD, **common)  # type: ignore[arg-type]
    return Prompt(kind=PromptKind.STATEMENT, **common)  # type: ignore[arg-type]


def _length(digits: re.Match[str], norm: str) -> int | None:
    """The length in "your 10-digit account number", or "... as 8 digits" later on."""
    if digits.group("length"):
        return int(digits.group("length"))
    later = re.search(r"\b(?P<n>\d+)[ -]digits?\b", norm[digits.end() :])
    return int(later.group("n")) if later else None


def _spoken_choices(norm: str) -> tuple[str, ...]:
    choices: list[str] = []
    for match in _SPEECH_CHOICES.finditer(norm):
        text = match.group("choices")
        if re.match(r"(?:yes or no|it|that|so)\b", text):
            continue
        text = re.sub(r"^(?:things like|for example,?|something like)\s+", "", text)
        for raw in re.split(r",\s*(?:or\s+)?|\s+or\s+", text):
            part = raw.strip(" ,")
            if part and len(part.split()) <= 4 and not re.search(rf"{_PRESS}", part):
                choices.append(part)
    for match in _EITHER_OR.finditer(norm):
        parts = [part.strip(" ,") for part in re.split(r",\s*(?:or\s+)?|\s+or\s+", match.group("choices"))]
        parts = [re.sub(r"^(?:a|an|the|some)\s+", "", part) for part in parts]
        if len(parts) >= 2 and all(part and len(part.split()) <= 6 for part in parts):
            choices.extend(parts)
    return tuple(dict.fromkeys(choices))


def prompt_words(text: str) -> frozenset[str]:
    """A prompt's meaningful words and keys ("press 1" is not "press 3"; "one" and "1" are one key)."""
    normal = normalise(text)
    return keywords(normal) | frozenset(re.findall(r"[0-9*#]", normal))


def likeness(a: str, b: str) -> float:
    """How alike two readings of a prompt are: the share of their words and keys in common (0..1)."""
    first, second = prompt_words(a), prompt_words(b)
    if not first or not second:
        return 1.0 if first == second else 0.0
    return len(first & second) / len(first | second)


def prompt_signature(prompt: Prompt) -> str:
    """What stays the same when a line asks the same thing again.

    A menu is its options (a line that prefixes "That is not a valid option" still asks the same
    question); a digit prompt is the number it wants; anything else is its words.
    """
    if prompt.kind is PromptKind.MENU and prompt.options:
        return "menu:" + ";".join(
            f"{option.key}={option.label}" for option in sorted(prompt.options, key=lambda o: o.key)
        )
    if prompt.kind is PromptKind.DIGITS:
        return f"digits:{prompt.digits_for or ''}"
    return normalise(prompt.text)


_CALLBACK: Final = re.compile(
    r"\b(?:call ?back|call you back|called back|return (?:your )?call|call you when|call you as soon)\b"
)


def callback_key(prompt: Prompt) -> str | None:
    """The key a hold's callback offer asks for ("to request a callback, press 2"), if any."""
    return next((option.key for option in prompt.options if _CALLBACK.search(option.label.lower())), None)


def offer_only(prompt: Prompt) -> bool:
    """Whether every option of ``prompt`` is its callback offer ("stay on hold, or press 2 …")."""
    key = callback_key(prompt)
    return key is not None and all(option.key == key for option in prompt.options)
