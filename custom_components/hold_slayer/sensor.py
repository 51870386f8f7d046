"""Sensors: the line's current call (state, hold time, audio, words, queue) and diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import StateType

from .audio.classifier import Label
from .calls import HoldSlayerCalls
from .entity import HoldSlayerEntity
from .models import HoldSlayerConfigEntry
from .session.events import SessionState
from .session.snapshot import CallSnapshot
from .telephony import RegistrationState, RegistrationStatus, SipPhone

IDLE: Final = "idle"
HOLD_TIME_REFRESH: Final = timedelta(seconds=5)  # the hold-time sensor ticks this often, not per frame
HISTORY_LINES: Final = 20

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class HoldSlayerPhoneSensorDescription(SensorEntityDescription):
    """A sensor that reads the SIP phone's registration status."""

    value_fn: Callable[[RegistrationStatus], str | None]
    attributes_fn: Callable[[RegistrationStatus], dict[str, Any]]


PHONE_SENSORS: tuple[HoldSlayerPhoneSensorDescription, ...] = (
    HoldSlayerPhoneSensorDescription(
        key="registration",
        translation_key="registration",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in RegistrationState],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.state.value,
        attributes_fn=lambda status: {"last_error": status.error, "expires": status.expires},
    ),
)


def _call_attributes(call: CallSnapshot | None, calls: HoldSlayerCalls) -> dict[str, Any]:
    """The active call's details, and every active call (several may run at once)."""
    if call is None:
        return {"calls": []}
    ended = {} if call.end_cause is None else {"end_cause": call.end_cause, "end_reason": call.end_reason}
    return {
        "call_id": call.call_id,
        "company": call.company,
        "number": call.number,
        "goal": call.goal,
        "started": calls.started.get(call.call_id),
        "current_menu": call.current_menu,
        "calls": [
            {
                "call_id": other.call_id,
                "company": other.company,
                "number": other.number,
                "state": str(other.state),
            }
            for other in calls.active_snapshots()
        ],
        **ended,  # once the call is over: why (the card shows it)
    }


def _last_utterance(call: CallSnapshot | None) -> str | None:
    if call is None or not call.transcript:
        return None
    return call.transcript[-1].text[:255]


def _history(call: CallSnapshot | None) -> dict[str, Any]:
    lines = call.transcript[-HISTORY_LINES:] if call is not None else ()
    return {"history": [{"at": line.at, "speaker": str(line.speaker), "text": line.text} for line in lines]}


@dataclass(frozen=True, kw_only=True)
class HoldSlayerCallSensorDescription(SensorEntityDescription):
    """A sensor that reads the line's current call."""

    value_fn: Callable[[CallSnapshot | None], StateType]
    attributes_fn: Callable[[CallSnapshot | None, HoldSlayerCalls], dict[str, Any]] = lambda _s, _c: {}
    unrecorded: frozenset[str] = frozenset()
    ticks_on_hold: bool = False


CALL_SENSORS: tuple[HoldSlayerCallSensorDescription, ...] = (
    HoldSlayerCallSensorDescription(
        key="call_state",
        translation_key="call_state",
        device_class=SensorDeviceClass.ENUM,
        options=[IDLE, *(state.value for state in SessionState)],
        value_fn=lambda call: str(call.state) if call is not None else IDLE,
        attributes_fn=_call_attributes,
    ),
    HoldSlayerCallSensorDescription(
        key="hold_time",
        translation_key="hold_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.MINUTES,
        value_fn=lambda call: call.hold_seconds if call is not None else None,
        ticks_on_hold=True,
    ),
    HoldSlayerCallSensorDescription(
        key="line_audio",
        translation_key="line_audio",
        device_class=SensorDeviceClass.ENUM,
        options=[label.value for label in Label],
        entity_registry_enabled_default=False,
        value_fn=lambda call: str(call.line_label) if call is not None and call.line_label else None,
        attributes_fn=lambda call, _: {"confidence": call.line_confidence if call is not None else None},
    ),
    HoldSlayerCallSensorDescription(
        key="last_utterance",
        translation_key="last_utterance",
        value_fn=_last_utterance,
        attributes_fn=lambda call, _: _history(call),
        unrecorded=frozenset({"history"}),
    ),
    HoldSlayerCallSensorDescription(
        key="queue_position",
        translation_key="queue_position",
        value_fn=lambda call: call.queue_position if call is not None else None,
    ),
    HoldSlayerCallSensorDescription(
        key="estimated_wait",
        translation_key="estimated_wait",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        value_fn=lambda call: call.estimated_wait_minutes if call is not None else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HoldSlayerConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add the line's sensors."""
    data = entry.runtime_data
    async_add_entities(
        [
            *(HoldSlayerPhoneSensor(entry, data.phone, description) for description in PHONE_SENSORS),
            *(HoldSlayerCallSensor(entry, data.calls, description) for description in CALL_SENSORS),
            HoldSlayerStatisticsSensor(entry, data.calls),
        ]
    )


class HoldSlayerPhoneSensor(HoldSlayerEntity, SensorEntity):
    """A sensor pushed by the SIP phone's status listener."""

    entity_description: HoldSlayerPhoneSensorDescription

    def __init__(
        self,
        entry: HoldSlayerConfigEntry,
        phone: SipPhone,
        description: HoldSlayerPhoneSensorDescription,
    ) -> None:
        super().__init__(entry, description)
        self._phone = phone

    async def async_added_to_hass(self) -> None:
        """Follow the phone's status from now on."""
        self.async_on_remove(self._phone.async_listen(self._async_status_changed))

    @callback
    def _async_status_changed(self, _: RegistrationStatus) -> None:
        self.async_write_ha_state()

    @property
    def native_value(self) -> str | None:
        """The current value, read from the phone."""
        return self.entity_description.value_fn(self._phone.status)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Details that explain the value."""
        return self.entity_description.attributes_fn(self._phone.status)


class HoldSlayerCallSensor(HoldSlayerEntity, SensorEntity):
    """A sensor pushed by the line's calls."""

    entity_description: HoldSlayerCallSensorDescription

    def __init__(
        self,
        entry: HoldSlayerConfigEntry,
        calls: HoldSlayerCalls,
        description: HoldSlayerCallSensorDescription,
    ) -> None:
        super().__init__(entry, description)
        self._calls = calls
        self._unrecorded_attributes = description.unrecorded
        self._tick: Callable[[], None] | None = None

    async def async_added_to_hass(self) -> None:
        """Follow the calls from now on."""
        self.async_on_remove(self._calls.async_listen_update(self._async_changed))
        self.async_on_remove(self._stop_ticking)

    @callback
    def _async_changed(self) -> None:
        if self.entity_description.ticks_on_hold:
            self._follow_hold()
        self.async_write_ha_state()

    def _follow_hold(self) -> None:
        # Hold time grows every second; writing it every few seconds is plenty (and cheap).
        call = self._calls.current_snapshot()
        on_hold = call is not None and call.state is SessionState.ON_HOLD
        if on_hold and self._tick is None:
            self._tick = async_track_time_interval(
                self.hass, callback(lambda _: self.async_write_ha_state()), HOLD_TIME_REFRESH
            )
        elif not on_hold:
            self._stop_ticking()

    @callback
    def _stop_ticking(self) -> None:
        if self._tick is not None:
            self._tick()
            self._tick = None

    @property
    def native_value(self) -> StateType:
        """The current value, read from the current call."""
        return self.entity_description.value_fn(self._calls.current_snapshot())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Details of the current call."""
        return self.entity_description.attributes_fn(self._calls.current_snapshot(), self._calls)


class HoldSlayerStatisticsSensor(HoldSlayerEntity, SensorEntity):
    """Diagnostic: the last call's hold time, with statistics per company as attributes."""

    def __init__(self, entry: HoldSlayerConfigEntry, calls: HoldSlayerCalls) -> None:
        super().__init__(
            entry,
            SensorEntityDescription(
                key="last_hold_time",
                translation_key="last_hold_time",
                device_class=SensorDeviceClass.DURATION,
                native_unit_of_measurement=UnitOfTime.SECONDS,
                suggested_unit_of_measurement=UnitOfTime.MINUTES,
                entity_category=EntityCategory.DIAGNOSTIC,
            ),
        )
        self._calls = calls

    async def async_added_to_hass(self) -> None:
        """Follow the calls from now on."""
        self.async_on_remove(self._calls.async_listen_update(self.async_write_ha_state))

    @property
    def native_value(self) -> float | None:
        """Seconds the last finished call spent on hold."""
        return self._calls.last_hold_seconds

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Calls, median hold and success rate per company."""
        return {"companies": {name: stats.as_dict() for name, stats in self._calls.companies.items()}}
