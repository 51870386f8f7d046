"""Telephony: the only package that touches the SIP library; an asyncio API above it."""

from .account import (
    DEFAULT_PORTS,
    KEEPALIVE_INTERVAL,
    STUN_PORT,
    KeepaliveMethod,
    PortRange,
    SipAccount,
    Transport,
)
from .call import Call, CallEnd, CallFailedError, CallLeg, CallState, EndCause
from .errors import (
    SipAuthError,
    SipCertificateError,
    SipConfigError,
    SipConnectionError,
    SipError,
    SipRejectedError,
    SipStunError,
    SipTimeoutError,
    SipTransferError,
)
from .incoming import IncomingCall
from .phone import RegistrationState, RegistrationStatus, SipPhone, probe_registration, probe_trunk

__all__ = [
    "DEFAULT_PORTS",
    "KEEPALIVE_INTERVAL",
    "STUN_PORT",
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
    "SipStunError",
    "SipTimeoutError",
    "SipTransferError",
    "Transport",
    "probe_registration",
    "probe_trunk",
]
