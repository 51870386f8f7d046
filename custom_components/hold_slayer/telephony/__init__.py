"""Telephony: the only package that touches the SIP library; an asyncio API above it."""

from .account import DEFAULT_PORTS, PortRange, SipAccount, Transport
from .errors import (
    SipAuthError,
    SipCertificateError,
    SipConfigError,
    SipConnectionError,
    SipError,
    SipRejectedError,
    SipTimeoutError,
)
from .phone import RegistrationState, RegistrationStatus, SipPhone, probe_registration

__all__ = [
    "DEFAULT_PORTS",
    "PortRange",
    "RegistrationState",
    "RegistrationStatus",
    "SipAccount",
    "SipAuthError",
    "SipCertificateError",
    "SipConfigError",
    "SipConnectionError",
    "SipError",
    "SipPhone",
    "SipRejectedError",
    "SipTimeoutError",
    "Transport",
    "probe_registration",
]
