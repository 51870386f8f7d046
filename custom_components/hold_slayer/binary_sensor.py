"""Binary sensors: on hold, and a person on the line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .calls import HoldSlayerCalls
from .entity import HoldSlayerEntity
from .models import HoldSlayerConfigEntry
from .session.events import SessionState
from .session.snapshot import CallSnapshot

PARALLEL_UPDATES = 0

_WITH_PERSON = frozenset({SessionState.HUMAN, SessionState.TRANSFERRING, SessionState.CONNECTED})


@dataclass(frozen=True, kw_only=True)
class HoldSlayerBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor over the line's calls."""

    is_on_fn: Callable[[list[CallSnapshot]], bool]


BINARY_SENSORS: tuple[HoldSlayerBinarySensorDescription, ...] = (
    HoldSlayerBinarySensorDescription(
        key="on_hold",
        translation_key="on_hold",
        is_on_fn=lambda active: any(call.state is SessionState.ON_HOLD for call in active),
    ),
    HoldSlayerBinarySensorDescription(
        key="human_on_line",
        translation_key="human_on_line",
        is_on_fn=lambda active: any(call.state in _WITH_PERSON for call in active),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HoldSlayerConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add the line's binary sensors."""
    calls = entry.runtime_data.calls
    async_add_entities(HoldSlayerBinarySensor(entry, calls, description) for description in BINARY_SENSORS)


class HoldSlayerBinarySensor(HoldSlayerEntity, BinarySensorEntity):
    """On while any call of the line is in the described state."""

    entity_description: HoldSlayerBinarySensorDescription

    def __init__(
        self,
        entry: HoldSlayerConfigEntry,
        calls: HoldSlayerCalls,
        description: HoldSlayerBinarySensorDescription,
    ) -> None:
        super().__init__(entry, description)
        self._calls = calls

    async def async_added_to_hass(self) -> None:
        """Follow the calls from now on."""
        self.async_on_remove(self._calls.async_listen_update(self.async_write_ha_state))

    @property
    def is_on(self) -> bool:
        """Whether any active call is in the state."""
        return self.entity_description.is_on_fn(self._calls.active_snapshots())
