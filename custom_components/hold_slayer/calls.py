"""The line's calls in Home Assistant: start sessions, relay their events, keep statistics.

:class:`HoldSlayerCalls` is the device object the entities subscribe to (push only). Each call
is a core :class:`CallSession` running as a background task of the config entry; its events go
to the entities, to the ``hold_slayer_event`` bus event (automations, blueprints, logbook) and
into per-company statistics kept in a :class:`Store`.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, EVENT_HOLD_SLAYER, LOGGER
from .ivr.decide import Decider
from .ivr.model import model_chain
from .ivr.routes import RouteBook, RouteDecider
from .route_store import HaFlowStore
from .session.dialplan import DialPlan, mask_number
from .session.events import FINAL_STATES, SessionEvent
from .session.request import CallRequest
from .session.session import CallSession
from .session.snapshot import CallSnapshot
from .telephony import SipPhone
from .voice.protocols import SpeechToText, TextToSpeech

STORAGE_VERSION: Final = 1
KEPT_SESSIONS: Final = 10  # ended calls kept for get_transcript and the entities
KEPT_HOLDS: Final = 50  # hold times kept per company for the median

type UpdateListener = Callable[[], None]
type EventListener = Callable[[CallSession, SessionEvent], None]


@dataclass(slots=True)
class CompanyStats:
    """How calls to one company went."""

    calls: int = 0
    reached: int = 0  # a person answered
    holds: list[float] | None = None  # seconds on hold, newest last

    def as_dict(self) -> dict[str, Any]:
        """For the diagnostic sensor: counts, median hold and success rate."""
        holds = self.holds or []
        return {
            "calls": self.calls,
            "median_hold_minutes": round(statistics.median(holds) / 60, 1) if holds else None,
            "success_rate": round(self.reached / self.calls, 2) if self.calls else None,
        }


def masked_number(session: CallSession) -> str:
    """The number a call dialled, as entities, logs and diagnostics may show it."""
    return mask_number(session.request.target)


class HoldSlayerCalls:
    """All calls of one line (config entry)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        phone: SipPhone,
        *,
        dial_plan: DialPlan,
        speech: Callable[[], tuple[SpeechToText | None, TextToSpeech | None]] = lambda: (None, None),
        make_decider: Callable[[Decider | None], Decider] | None = None,
        max_concurrent: int = 2,
    ) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.phone = phone
        self.dial_plan = dial_plan
        self.speech = speech  # resolved at each call: engines may come and go
        # One decider per call (a model keeps one conversation per call), after the number's route.
        self.make_decider = make_decider or (lambda route: model_chain([], route=route))
        self.routes = RouteBook(HaFlowStore(hass, entry_id))
        self.max_concurrent = max_concurrent
        self.sessions: OrderedDict[str, CallSession] = OrderedDict()
        self.started: dict[str, str] = {}  # call id → ISO start time
        self.companies: dict[str, CompanyStats] = {}
        self.last_hold_seconds: float | None = None
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.statistics")
        self._update_listeners: list[UpdateListener] = []
        self._event_listeners: list[EventListener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._replays: dict[str, RouteDecider | None] = {}  # call id → the route it replays

    async def async_load(self) -> None:
        """Read the statistics and learned routes kept from earlier runs."""
        await self.routes.load()
        data = await self._store.async_load() or {}
        self.last_hold_seconds = data.get("last_hold_seconds")
        for name, stats in data.get("companies", {}).items():
            self.companies[name] = CompanyStats(
                stats["calls"], stats["reached"], list(stats.get("holds", []))
            )

    # -- observing ------------------------------------------------------------------------------

    @callback
    def async_listen_update(self, listener: UpdateListener) -> Callable[[], None]:
        """Call ``listener`` whenever a call changes; returns an unsubscribe."""
        self._update_listeners.append(listener)
        return lambda: self._update_listeners.remove(listener)

    @callback
    def async_listen_events(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` with every call event; returns an unsubscribe."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @property
    def active(self) -> list[CallSession]:
        """Calls not yet ended, oldest first."""
        return [session for session in self.sessions.values() if session.state not in FINAL_STATES]

    @property
    def current(self) -> CallSession | None:
        """The call the entities show: the newest active one, else the last one."""
        if active := self.active:
            return active[-1]
        return next(reversed(self.sessions.values()), None)

    def current_snapshot(self) -> CallSnapshot | None:
        """What the entities show: the current call, frozen."""
        session = self.current
        return session.snapshot() if session is not None else None

    def timeline_snapshot(self, call_id: str | None = None) -> CallSnapshot | None:
        """A call with its timeline strip, without transcript (the card): ``call_id``, else the current."""
        session = self.sessions.get(call_id) if call_id is not None else self.current
        return session.snapshot(transcript_lines=0, timeline=True) if session is not None else None

    def active_snapshots(self) -> list[CallSnapshot]:
        """Every active call, frozen, without transcripts (oldest first)."""
        return [session.snapshot(transcript_lines=0) for session in self.active]

    def get(self, call_id: str | None) -> CallSession | None:
        """A call by id; without an id, the only (or newest) active call."""
        if call_id is None:
            active = self.active
            return active[-1] if active else None
        return self.sessions.get(call_id)

    # -- calls ----------------------------------------------------------------------------------

    @callback
    def async_start(
        self, request: CallRequest, *, create_task: Callable[..., asyncio.Task[None]]
    ) -> CallSession:
        """Start a call in the background and return its session at once."""
        stt, tts = self.speech()
        if stt is None:
            LOGGER.warning("No speech-to-text engine: Hold Slayer cannot read menus on this call")
        replay = self.routes.decider_for(request.target)
        dial = functools.partial(self.phone.dial, may_redirect=self.dial_plan.allows_redirect)
        session = CallSession(request, dial, stt=stt, tts=tts, decider=self.make_decider(replay))
        self._replays[session.id] = replay
        self.sessions[session.id] = session
        self.started[session.id] = dt_util.utcnow().isoformat()
        while len(self.sessions) > KEPT_SESSIONS and (oldest := next(iter(self.sessions))) != session.id:
            if self.sessions[oldest].state not in FINAL_STATES:
                break
            del self.sessions[oldest]
            self.started.pop(oldest, None)
        session.async_listen(lambda event: self._on_session(session, event))
        LOGGER.info(
            "Calling %s (%s) as call %s", request.company or "a company", masked_number(session), session.id
        )
        task = create_task(self._run(session), f"{DOMAIN} call {session.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return session

    async def _run(self, session: CallSession) -> None:
        outcome = await session.run()
        LOGGER.info("Call %s ended: %s %s", session.id, outcome.cause, outcome.reason)
        await self._record(session)
        self._notify()

    async def _record(self, session: CallSession) -> None:
        await session.learn_route(self.routes, self._replays.pop(session.id, None))
        name = session.request.company or mask_number(session.request.target)
        stats = self.companies.setdefault(name, CompanyStats(holds=[]))
        stats.calls += 1
        if session.human_detected_at is not None:
            stats.reached += 1
        if (hold := session.hold_seconds) is not None:
            stats.holds = [*(stats.holds or []), hold][-KEPT_HOLDS:]
            self.last_hold_seconds = hold
        self._store.async_delay_save(self._data_to_save, 1)

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "last_hold_seconds": self.last_hold_seconds,
            "companies": {
                name: {"calls": s.calls, "reached": s.reached, "holds": s.holds or []}
                for name, s in self.companies.items()
            },
        }

    @callback
    def _on_session(self, session: CallSession, event: SessionEvent | None) -> None:
        if event is not None:
            device = dr.async_get(self.hass).async_get_device(identifiers={(DOMAIN, self.entry_id)})
            self.hass.bus.async_fire(
                EVENT_HOLD_SLAYER,
                {
                    "type": str(event.type),
                    "call_id": session.id,
                    "device_id": device.id if device else None,
                    "config_entry_id": self.entry_id,
                    "company": session.request.company,
                    "at": event.at,
                    **event.data,
                },
            )
            for listener in list(self._event_listeners):
                listener(session, event)
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._update_listeners):
            listener()

    async def async_shutdown(self) -> None:
        """Hang up every call and wait for the sessions to finish (unload, HA stop)."""
        for session in self.active:
            await session.hangup("Home Assistant is stopping")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        await self._store.async_save(self._data_to_save())
