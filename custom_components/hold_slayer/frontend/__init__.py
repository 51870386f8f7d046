"""The dashboard card, served by the integration itself (HACS installs only this folder).

A package rather than ``frontend.py``: the card's JS file lives beside this module (a
``frontend/`` folder next to a ``frontend.py`` would shadow the module for type checkers).

Once per HA run: the card's websocket commands; the card's JS file as a static path (needs
``http``); and, when the ``frontend`` is loaded, its URL as an extra module every dashboard
loads. The URL carries a hash of the file, so a browser never runs a stale card after an update
(the file itself is served with long cache headers).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from custom_components.hold_slayer.const import DOMAIN, LOGGER
from custom_components.hold_slayer.websocket_api import async_register_commands

CARD_FILE: Final = Path(__file__).parent / "hold-slayer-card.js"
CARD_URL: Final = f"/{DOMAIN}/{CARD_FILE.name}"


@dataclass(slots=True)
class FrontendState:
    """What this HA run has registered for the card."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    static_path: bool = False  # the JS file is served at CARD_URL
    module_url: str | None = None  # the versioned URL dashboards load


DATA_FRONTEND: HassKey[FrontendState] = HassKey(f"{DOMAIN}_frontend")


def card_version() -> str:
    """A short hash of the card's file (blocking: run it in the executor)."""
    return hashlib.sha256(CARD_FILE.read_bytes()).hexdigest()[:12]


async def async_setup_frontend(hass: HomeAssistant) -> None:
    """Register the card's commands, file and URL, once per HA run (each entry may call this)."""
    if (state := hass.data.get(DATA_FRONTEND)) is None:
        state = hass.data[DATA_FRONTEND] = FrontendState()
        async_register_commands(hass)
    async with state.lock:  # two entries set up at once register once
        if not state.static_path and "http" in hass.config.components and hass.http is not None:
            await hass.http.async_register_static_paths(
                [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=True)]
            )
            state.static_path = True
        if state.module_url is not None or not state.static_path:
            return
        if "frontend" not in hass.config.components:
            LOGGER.debug("The frontend is not loaded: the Hold Slayer card is not offered to dashboards")
            return
        url = f"{CARD_URL}?v={await hass.async_add_executor_job(card_version)}"
        add_extra_js_url(hass, url)
        state.module_url = url
