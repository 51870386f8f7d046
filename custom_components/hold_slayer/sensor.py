"""Sensors: the SIP registration state (diagnostic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .entity import HoldSlayerEntity
from .models import HoldSlayerConfigEntry
from .telephony import RegistrationState, RegistrationStatus, SipPhone

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


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HoldSlayerConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add the line's sensors."""
    phone = entry.runtime_data.phone
    async_add_entities(HoldSlayerPhoneSensor(entry, phone, description) for description in PHONE_SENSORS)


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
