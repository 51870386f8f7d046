"""The call event entity: every call event as a translated event type."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .calls import HoldSlayerCalls
from .entity import HoldSlayerEntity
from .models import HoldSlayerConfigEntry
from .session.events import EventType, SessionEvent
from .session.session import CallSession

PARALLEL_UPDATES = 0

# Queue position changes are a sensor, not an event worth a logbook line each.
EVENT_TYPES = [kind.value for kind in EventType if kind is not EventType.QUEUE_POSITION]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HoldSlayerConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add the line's event entity."""
    async_add_entities([HoldSlayerCallEvent(entry, entry.runtime_data.calls)])


class HoldSlayerCallEvent(HoldSlayerEntity, EventEntity):
    """Fires for each call event of the line."""

    _attr_event_types = EVENT_TYPES

    def __init__(self, entry: HoldSlayerConfigEntry, calls: HoldSlayerCalls) -> None:
        super().__init__(entry, EventEntityDescription(key="call_event", translation_key="call_event"))
        self._calls = calls

    async def async_added_to_hass(self) -> None:
        """Follow the calls from now on."""
        await super().async_added_to_hass()
        self.async_on_remove(self._calls.async_listen_events(self._async_event))

    @callback
    def _async_event(self, session: CallSession, event: SessionEvent) -> None:
        if event.type.value not in EVENT_TYPES:
            return
        self._trigger_event(
            event.type.value,
            {"call_id": session.id, "company": session.request.company, **event.data},
        )
        self.async_write_ha_state()
