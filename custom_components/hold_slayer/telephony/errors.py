"""Errors the telephony layer raises; the HA surface maps each to a translated message."""

from __future__ import annotations


class SipError(Exception):
    """Base class for every telephony failure."""


class SipConnectionError(SipError):
    """The SIP server could not be reached (bad host, refused, no route)."""


class SipCertificateError(SipConnectionError):
    """The registrar's TLS certificate is not trusted (self-signed, expired or another name)."""


class SipTimeoutError(SipError):
    """The SIP server did not answer in time."""


class SipAuthError(SipError):
    """The SIP server rejected our credentials (401/407 after digest, 403, 404)."""


class SipRejectedError(SipError):
    """The SIP server answered with a final error that is not about credentials."""

    def __init__(self, status: int, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After)


class SipConfigError(SipError):
    """The account settings cannot work (e.g. no free local port in the range)."""


class SipTransferError(SipError):
    """The far end refused or failed a blind transfer (REFER)."""


class SipStunError(SipError):
    """The STUN server did not tell us our public address (no answer, an error, or no address)."""
