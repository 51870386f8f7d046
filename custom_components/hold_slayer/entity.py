"""Base entity: one device per config entry, push updates only."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .const import DOMAIN
from .models import HoldSlayerConfigEntry
from .telephony.auth import LIBRARY_VERSION


class HoldSlayerEntity(Entity):
    """An entity of one Hold Slayer line (config entry)."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: HoldSlayerConfigEntry, description: EntityDescription) -> None:
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="Hold Slayer",
            model="SIP line",
            sw_version=f"rfcvoip {LIBRARY_VERSION}",
            entry_type=DeviceEntryType.SERVICE,
        )
