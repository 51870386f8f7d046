"""Digest authentication (RFC 3261 §22, RFC 7616) — the only module importing the SIP library.

We use rfcvoip (the pyVoIP successor) for what it does well: parsing challenges and computing
digest responses (MD5, SHA-256, SHA-512-256, qop=auth/auth-int). Transactions, dialogs and
media are ours; ``docs/sip-engine.md`` explains why, with measurements.
"""

from __future__ import annotations

from typing import Final

from rfcvoip._version import __version__ as rfcvoip_version
from rfcvoip.SIPAuth import (
    SIPAuthError,
    build_digest_auth_header,
    choose_digest_challenge,
    parse_digest_params,
)

from .errors import SipAuthError
from .sipmsg import SipMessage

LIBRARY_VERSION: Final = rfcvoip_version


def authorization(
    challenge: SipMessage, *, method: str, uri: str, username: str, password: str, body: bytes = b""
) -> tuple[str, str]:
    """The ``(header name, value)`` answering a 401 or 407 ``challenge``."""
    www = challenge.status == 401
    source = "WWW-Authenticate" if www else "Proxy-Authenticate"
    offers = [parse_digest_params(value) for value in challenge.header_values(source)]
    chosen = choose_digest_challenge(offers)
    if chosen is None:
        raise SipAuthError(f"no usable digest challenge in {challenge.status}")
    name = "Authorization" if www else "Proxy-Authorization"
    try:
        line = build_digest_auth_header(
            chosen, header_name=name, username=username, password=password, method=method, uri=uri, body=body
        )
    except SIPAuthError as err:
        raise SipAuthError(str(err)) from err
    header, _, value = line.strip().partition(": ")
    return header, value
