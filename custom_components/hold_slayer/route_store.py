"""Learned routes kept in Home Assistant's storage (one file per line, in ``.storage``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION: Final = 1


class HaFlowStore:
    """The core's ``FlowStore`` on HA's ``Store``."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.routes")

    async def load(self) -> Mapping[str, Any] | None:
        """The routes saved earlier."""
        return await self._store.async_load()

    async def save(self, data: Mapping[str, Any]) -> None:
        """Save the routes now (a route is learned once per call: no need to batch)."""
        await self._store.async_save(dict(data))

    async def remove(self) -> None:
        """Delete the file (the line was removed)."""
        await self._store.async_remove()
