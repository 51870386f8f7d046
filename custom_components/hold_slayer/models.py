"""Runtime data of a Hold Slayer config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .calls import HoldSlayerCalls
from .telephony import SipPhone


@dataclass(slots=True)
class HoldSlayerData:
    """What a loaded entry owns: its SIP phone and its calls."""

    phone: SipPhone
    calls: HoldSlayerCalls


type HoldSlayerConfigEntry = ConfigEntry[HoldSlayerData]
