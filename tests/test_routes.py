"""The learned-route actions in Home Assistant: list, export, forget; kept across a reload."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from custom_components.hold_slayer.const import CONF_HOME_COUNTRY_CODE, DOMAIN
from custom_components.hold_slayer.ivr.routes import RouteStep
from harness.servers.kamailio import Registrar
from tests.conftest import setup_line

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.registrar]

ENTRY_ID = "routesline"
BANK = "+18005550100"
GAS = "+18005550177"


def _steps() -> list[RouteStep]:
    return [
        RouteStep(
            "For billing, press 1. For support, press 2.",
            {"kind": "press", "digits": "1", "secret": None},
            6.0,
        ),
        RouteStep(
            "Please enter your account number.", {"kind": "press", "digits": "#", "secret": "account"}, 12.0
        ),
    ]


async def _call(hass: HomeAssistant, action: str, **data: str) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, action, {"config_entry_id": ENTRY_ID, **data}, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def test_list_export_forget_and_reload(hass: HomeAssistant, registrar: Registrar) -> None:
    entry = await setup_line(hass, registrar, ENTRY_ID, {CONF_HOME_COUNTRY_CODE: "1"})
    routes = entry.runtime_data.calls.routes
    await routes.record(BANK, "Acme Bank", _steps(), hold_seconds=240.0, hour=9)
    await routes.record(GAS, "Demo Gas", _steps()[:1], hold_seconds=None, type_ahead=False)

    listed = await _call(hass, "list_routes")
    bank = next(route for route in listed["routes"] if route["number"] == BANK)
    assert bank["company"] == "Acme Bank"
    assert bank["steps"] == ["press 1", "press the caller's account then #"]
    assert bank["stale"] is False
    assert bank["type_ahead"] is True
    assert next(route for route in listed["routes"] if route["number"] == GAS)["type_ahead"] is False
    assert bank["hold"] == {"typical": 240.0, "longest": 240.0, "by_hour": {9: 240.0}}

    exported = await _call(hass, "export_routes")
    assert exported["version"] == 1
    assert set(exported["routes"]) == {BANK, GAS}

    # Kept in HA's storage: a reload reads them back.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert set(entry.runtime_data.calls.routes.routes) == {BANK, GAS}

    assert await _call(hass, "forget_route", company="demo gas") == {"forgotten": [GAS]}
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "forget_route", number=GAS)
    assert err.value.translation_key == "route_not_found"
    assert str(err.value).startswith(f"No learned route for {GAS}")
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "forget_route")
    assert err.value.translation_key == "route_target_required"
    assert await _call(hass, "forget_route", number=BANK) == {"forgotten": [BANK]}
    assert await _call(hass, "list_routes") == {"routes": []}
