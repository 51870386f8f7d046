"""Learned routes: the way through a company's menu, remembered per number and replayed.

After a call reaches a person, each step it took is kept: the prompt's words (secrets masked),
the action (a secret by its name only), when it came (seconds after the answer), how often the
step was seen and when it was last confirmed, plus the company's hold times. The next call to
that number replays the route step by step without asking any model: a step is taken only when
the prompt heard matches the one remembered and the action still fits it (the key is still
offered, the secret was given for this call). A prompt is recognised by its recording when both
the step and the call have its audio fingerprint, else by its words: a fingerprint that says
"another recording" outvotes words that read alike (docs/fingerprint.md says why). When the menu
changed, the route decider passes, the rest of the chain decides, and the route is rewritten
from that call. A route not confirmed within the freshness window is not replayed: the call
decides afresh and confirms it.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from custom_components.hold_slayer.audio.fingerprint import fingerprint_likeness

from .decide import Action, DecisionContext, ExpectedPrompt, HangUp, Press, Say, Wait
from .menu import Prompt, PromptKind, likeness, parse_prompt

ROUTES_VERSION: Final = 1
FRESHNESS_DAYS: Final = 30.0  # menus change with seasons and reorganisations; a month is trusted
PROMPT_LIKENESS: Final = 0.6  # share of words two readings of one prompt have in common (STT varies)
SAME_OPTION: Final = 0.5  # likeness of the words a key stood for then and now that keep it the same option
FINGERPRINT_LIKENESS: Final = 0.5  # audio fingerprints this alike are one recording (docs/fingerprint.md)
MASKED: Final = "•"  # what the session puts for a secret's value in a prompt's words (session.request.MASK)
LOOKAHEAD: Final = 2  # a step the line skipped this time (a holiday notice gone) is no divergence
KEPT_HOLDS: Final = 50  # hold times kept per route for the profile
SOURCE: Final = "learned route"


class FlowStore(Protocol):
    """Where routes persist: HA's ``Store`` in HA, a JSON file headless."""

    async def load(self) -> Mapping[str, Any] | None:
        """The saved data, or ``None`` when nothing was saved yet."""

    async def save(self, data: Mapping[str, Any]) -> None:
        """Replace the saved data."""


class JsonFlowStore:
    """A :class:`FlowStore` in one JSON file (written beside and renamed into place)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def load(self) -> Mapping[str, Any] | None:
        """The file's data, if it exists."""
        return await asyncio.to_thread(self._read)

    def _read(self) -> Mapping[str, Any] | None:
        try:
            data: Mapping[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        return data

    async def save(self, data: Mapping[str, Any]) -> None:
        """Write the file."""
        await asyncio.to_thread(self._write, json.dumps(data, indent=1, sort_keys=True))

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(self.path)


def action_to_dict(action: Action) -> dict[str, Any]:
    """An action as stored: secrets by name, never a value (actions never hold one)."""
    match action:
        case Press(digits=digits, secret=secret):
            return {"kind": "press", "digits": digits, "secret": secret}
        case Say(text=text):
            return {"kind": "say", "text": text}
        case HangUp(reason=reason):
            return {"kind": "hang_up", "reason": reason}
        case _:
            return {"kind": "wait"}


def action_from_dict(data: Mapping[str, Any], *, reason: str) -> Action:
    """A stored action, as the route decider replays it."""
    match data.get("kind"):
        case "press":
            return Press(str(data.get("digits", "")), secret=data.get("secret"), reason=reason, source=SOURCE)
        case "say":
            return Say(str(data["text"]), reason=reason, source=SOURCE)
        case "hang_up":
            return HangUp(str(data.get("reason", "")), source=SOURCE)
        case _:
            return Wait(reason=reason, source=SOURCE)


@dataclass(slots=True)
class RouteStep:
    """One step: what the line said (secrets masked), what we did, and when."""

    prompt: str
    action: dict[str, Any]
    at: float  # seconds after the line answered
    seen: int = 1
    confirmed: float = 0.0  # unix time this step was last taken and led on to a person
    fingerprint: str | None = None  # the prompt's audio fingerprint, if the call had it

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouteStep:
        """A stored step."""
        return cls(
            str(data["prompt"]),
            dict(data["action"]),
            float(data["at"]),
            int(data["seen"]),
            float(data["confirmed"]),
            fingerprint if isinstance(fingerprint := data.get("fingerprint"), str) and fingerprint else None,
        )


@dataclass(slots=True)
class Route:
    """The way to a person at one number, and how long its holds were."""

    number: str
    company: str
    steps: list[RouteStep]
    calls: int = 1
    confirmed: float = 0.0  # unix time of the last call that followed it to a person
    holds: list[tuple[float, int]] = field(default_factory=list)  # (seconds on hold, local hour)
    type_ahead: bool = True  # its line takes what a call sends over its prompts (false: it dropped it)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Route:
        """A stored route."""
        return cls(
            str(data["number"]),
            str(data.get("company", "")),
            [RouteStep.from_dict(step) for step in data["steps"]],
            int(data["calls"]),
            float(data["confirmed"]),
            [(float(seconds), int(hour)) for seconds, hour in data.get("holds", [])],
            bool(data.get("type_ahead", True)),
        )

    def as_dict(self) -> dict[str, Any]:
        """As stored, and as the list and export actions show it."""
        data = asdict(self)
        data["holds"] = [list(hold) for hold in self.holds]
        return data

    def hold_profile(self) -> dict[str, Any]:
        """Typical and longest hold, in seconds, overall and by hour of the day."""
        if not self.holds:
            return {"typical": None, "longest": None, "by_hour": {}}
        by_hour: dict[int, list[float]] = {}
        for seconds, hour in self.holds:
            by_hour.setdefault(hour, []).append(seconds)
        seconds_only = [seconds for seconds, _ in self.holds]
        return {
            "typical": round(statistics.median(seconds_only), 1),
            "longest": round(max(seconds_only), 1),
            "by_hour": {
                hour: round(statistics.median(values), 1) for hour, values in sorted(by_hour.items())
            },
        }


class RouteDecider:
    """Replays one route, step by step; passes (``None``) where the line no longer matches it."""

    source = SOURCE

    def __init__(self, route: Route) -> None:
        self.route = route
        self.position = 0  # the next step expected
        self.followed: list[int] = []  # indices of the steps replayed, in order
        self.diverged = False

    def expected(self) -> list[ExpectedPrompt]:
        """The next steps' prompts, where their recording is known and they answer something.

        Nothing once the line went its own way: the call is deciding afresh.
        """
        if self.diverged:
            return []
        ahead = self.route.steps[self.position : self.position + LOOKAHEAD]
        return [
            ExpectedPrompt(step.prompt, step.fingerprint, early=self.route.type_ahead)
            for step in ahead
            if step.fingerprint is not None and step.action.get("kind") != "wait"
        ]

    async def decide(self, context: DecisionContext) -> Action | None:
        """The remembered action for this prompt, if it is the prompt remembered and still fits."""
        if context.attempts > 1:
            self.diverged = True  # the line repeated itself: what we did last time did not work here
            return None
        steps = self.route.steps
        for index in range(self.position, min(self.position + LOOKAHEAD, len(steps))):
            step = steps[index]
            by_recording = step.fingerprint is not None and context.fingerprint is not None
            if not same_prompt(step, context):
                continue
            reason = f"step {index + 1} of the route, seen {step.seen}x" + (
                ", same recording" if by_recording else ""
            )
            action = action_from_dict(step.action, reason=reason)
            if not _still_fits(action, context) or (
                not by_recording and _key_moved(action, step, context.prompt)
            ):
                break
            self.position = index + 1
            self.followed.append(index)
            return action
        self.diverged = True
        return None


def same_prompt(step: RouteStep, context: DecisionContext) -> bool:
    """Whether the prompt heard is the one ``step`` remembers."""
    return _alike(step.prompt, step.fingerprint, context.prompt.text, context.fingerprint)


def _alike(words: str, fingerprint: str | None, other_words: str, other_fingerprint: str | None) -> bool:
    """Whether two readings are one prompt.

    By the recording when both have a fingerprint — either way: the same recording read
    differently by speech recognition is the step, and another recording is not, however alike
    its words (they are compared as a set, blind to a menu that swapped its keys) — else by words.
    """
    if fingerprint is not None and other_fingerprint is not None:
        return fingerprint_likeness(fingerprint, other_fingerprint) >= FINGERPRINT_LIKENESS
    return likeness(words, other_words) >= PROMPT_LIKENESS


def without_retries(steps: Sequence[RouteStep]) -> list[RouteStep]:
    """The steps that moved the call on: a step the line answered by reading its prompt again is dropped.

    A wait the menu timed out on, keys it did not take, an answer it found invalid: the next
    step is the same prompt, and what was done there is the way. Replayed, the dropped step
    would cost the whole wait again (a menu's timeout and a second reading).
    """
    kept: list[RouteStep] = []
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        if following is None or not _alike(
            step.prompt, step.fingerprint, following.prompt, following.fingerprint
        ):
            kept.append(step)
    return kept


def _still_fits(action: Action, context: DecisionContext) -> bool:
    """Whether a remembered action is still possible on this prompt for this call."""
    prompt = context.prompt
    if isinstance(action, Press):
        if action.secret is not None:
            return action.secret in context.secret_names and prompt.kind is PromptKind.DIGITS
        offered = {option.key for option in prompt.options}
        return not offered or action.digits in offered
    return True


def _key_moved(action: Action, step: RouteStep, prompt: Prompt) -> bool:
    """Whether the key remembered now stands for another option ("billing, 1" became "support, 1").

    Words are compared as a set, so a menu that swapped its keys reads like the one remembered:
    the option the key was pressed for must still be the option behind it. (The same recording
    cannot have moved its keys: a prompt matched by its fingerprint is not asked.)
    """
    if not isinstance(action, Press) or not action.digits or action.secret is not None:
        return False
    then = _option_words(parse_prompt(step.prompt), action.digits)
    now = _option_words(prompt, action.digits)
    return bool(then and now) and likeness(then, now) < SAME_OPTION


def _option_words(prompt: Prompt, key: str) -> str:
    return next((option.label for option in prompt.options if option.key == key), "")


def _keepable(step: RouteStep) -> str | None:
    """The step's fingerprint, unless its prompt held a secret (masked in the words, not the audio)."""
    return None if MASKED in step.prompt else step.fingerprint


class RouteBook:
    """Every number's route, persisted through a :class:`FlowStore`."""

    def __init__(
        self,
        store: FlowStore,
        *,
        freshness_days: float = FRESHNESS_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.freshness = freshness_days * 86400
        self.clock = clock
        self.routes: dict[str, Route] = {}

    async def load(self) -> None:
        """Read the routes saved earlier."""
        data = await self.store.load() or {}
        self.routes = {number: Route.from_dict(route) for number, route in data.get("routes", {}).items()}
        for route in self.routes.values():  # kept before retried steps were dropped
            route.steps = without_retries(route.steps)

    async def save(self) -> None:
        """Write every route."""
        await self.store.save(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """All routes as stored."""
        return {
            "version": ROUTES_VERSION,
            "routes": {number: route.as_dict() for number, route in self.routes.items()},
        }

    def is_fresh(self, route: Route) -> bool:
        """Whether ``route`` was confirmed within the freshness window (else it is re-decided)."""
        return self.clock() - route.confirmed <= self.freshness

    def decider_for(self, number: str) -> RouteDecider | None:
        """A replay of the route to ``number``; ``None`` when there is none or it is stale."""
        route = self.routes.get(number)
        if route is None or not route.steps or not self.is_fresh(route):
            return None
        return RouteDecider(route)

    async def record(
        self,
        number: str,
        company: str,
        steps: Sequence[RouteStep],
        *,
        hold_seconds: float | None,
        replay: RouteDecider | None = None,
        hour: int | None = None,
        type_ahead: bool = True,
    ) -> Route:
        """Keep the route a call to a person took.

        A replay that matched the whole way confirms the remembered steps (``seen`` + 1) and keeps
        their fingerprints (a step remembered without one gains this call's); a call that decided
        afresh (no route, a stale one, or a menu that changed) replaces them. A prompt whose words
        had a secret masked keeps no fingerprint: its audio may read the secret back. A line that
        dropped what a call typed ahead (``type_ahead`` false) is answered after its prompts from
        then on, whatever the route becomes.
        """
        now = self.clock()
        old = self.routes.get(number)
        followed = (
            replay is not None
            and not replay.diverged
            and replay.followed == list(range(len(replay.route.steps)))
        )
        if old is not None and followed:
            if len(steps) == len(old.steps):  # this call's steps are the replayed ones, in order
                for step, heard in zip(old.steps, steps, strict=True):
                    if step.fingerprint is None and heard.action == step.action:
                        step.fingerprint = _keepable(heard)
            for step in old.steps:
                step.seen += 1
                step.confirmed = now
            route = old
            route.calls += 1
        else:
            route = Route(
                number,
                company,
                [RouteStep(s.prompt, s.action, s.at, 1, now, _keepable(s)) for s in without_retries(steps)],
            )
            if old is not None:
                route.calls, route.holds, route.type_ahead = old.calls + 1, old.holds, old.type_ahead
        route.company = company or route.company
        route.confirmed = now
        route.type_ahead = route.type_ahead and type_ahead
        if hold_seconds is not None:
            local_hour = time.localtime(now).tm_hour if hour is None else hour
            route.holds = [*route.holds, (round(hold_seconds, 1), local_hour)][-KEPT_HOLDS:]
        self.routes[number] = route
        await self.save()
        return route

    async def forget(self, number: str | None = None, company: str | None = None) -> list[str]:
        """Forget the route to ``number`` or every route of ``company``; the numbers forgotten."""
        gone = [
            key
            for key, route in self.routes.items()
            if key == number or (company is not None and route.company.casefold() == company.casefold())
        ]
        for key in gone:
            del self.routes[key]
        if gone:
            await self.save()
        return gone
