"""Runtime data of a Hold Slayer config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .calls import HoldSlayerCalls
from .demo.line import DemoLine
from .telephony import SipPhone


@dataclass(slots=True)
class HoldSlayerData:
    """What a loaded entry owns: its SIP phone, its calls, and the demo companies if it is the demo."""

    phone: SipPhone
    calls: HoldSlayerCalls
    demo: DemoLine | None = None


type HoldSlayerConfigEntry = ConfigEntry[HoldSlayerData]
