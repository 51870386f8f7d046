"""Telephony: the only package that touches the SIP library; an asyncio API above it."""

from .account import DEFAULT_PORTS, KEEPALIVE_INTERVAL, KeepaliveMethod, PortRange, SipAccount, Transport
from .call import Call, CallEnd, CallFailedError, CallLeg, CallState, EndCause
from .errors import (
    SipAuthError,
    SipCertificateError,
    SipConfigError,
    SipConnectionError,
    SipError,
    SipRejectedError,
    SipTimeoutError,
    SipTransferError,
)
from .incoming import IncomingCall
from .phone import RegistrationState, RegistrationStatus, SipPhone, probe_registration, probe_trunk

__all__ = [
    "DEFAULT_PORTS",
    "KEEPALIVE_INTERVAL",
    "Call",
    "CallEnd",
    "CallFailedError",
    "CallLeg",
    "CallState",
    "EndCause",
    "IncomingCall",
    "KeepaliveMethod",
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
    "SipTransferError",
    "Transport",
    "probe_registration",
    "probe_trunk",
]
