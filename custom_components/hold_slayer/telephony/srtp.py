"""SRTP with keys exchanged in SDP (RFC 3711, SDES: RFC 4568), through libsrtp (``pylibsrtp``).

Each side names its own master key in ``a=crypto``; we encrypt with ours and decrypt with
theirs. The keys are secrets: they are sent only in SDP (over TLS on the accounts that use
SRTP by default), never logged, and kept out of every ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from dataclasses import dataclass, field
from typing import Final

from pylibsrtp import Error as LibSrtpError
from pylibsrtp import Policy, Session

_LOGGER = logging.getLogger(__name__)

# Suites by preference; both use AES-CM-128 with a 30-byte master key and salt (RFC 4568 §6.2).
SUITES: Final = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
KEY_LENGTH: Final = 30  # master key (16) and salt (14)


@dataclass(frozen=True, slots=True)
class Crypto:
    """One ``a=crypto`` line: its tag, suite and master key (with salt)."""

    tag: int
    suite: str
    key: bytes = field(repr=False)

    @classmethod
    def new(cls, tag: int = 1, suite: str = next(iter(SUITES))) -> Crypto:
        """A fresh random key for ``suite``."""
        return cls(tag, suite, secrets.token_bytes(KEY_LENGTH))

    @classmethod
    def parse(cls, value: str) -> Crypto | None:
        """``1 AES_CM_128_HMAC_SHA1_80 inline:<base64>[|lifetime][|MKI]``; ``None`` if unusable to us.

        A key with an MKI or several keys cannot be used by a session of one key; a session
        parameter (``UNENCRYPTED_SRTP`` …) changes what the suite means: both are passed over.
        """
        parts = value.split()
        if len(parts) != 3 or not parts[0].isdigit() or parts[1] not in SUITES:
            return None
        method, _, material = parts[2].partition(":")
        if method != "inline" or ";" in material:
            return None
        key_text, *extras = material.split("|")
        if any(":" in extra for extra in extras):
            return None  # an MKI
        try:
            key = base64.b64decode(key_text, validate=True)
        except (binascii.Error, ValueError):
            return None
        return cls(int(parts[0]), parts[1], key) if len(key) == KEY_LENGTH else None

    def attribute(self) -> str:
        """The ``a=crypto`` value."""
        return f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"

    def answering(self) -> Crypto:
        """Our own key for an answer that takes this offered line (same tag and suite)."""
        return Crypto.new(self.tag, self.suite)


class SrtpContext:
    """Both directions of one media stream: ours encrypted with our key, theirs decrypted with theirs."""

    def __init__(self, ours: Crypto, theirs: Crypto) -> None:
        if ours.suite != theirs.suite:
            raise ValueError("both keys must be of one suite")
        profile = SUITES[ours.suite]
        self.ours = ours
        self.theirs = theirs
        self._out = Session(Policy(key=ours.key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
        self._in = Session(Policy(key=theirs.key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
        self.rejected = 0  # packets that failed authentication or replay checks

    def protect(self, packet: bytes) -> bytes:
        """An RTP packet, encrypted and authenticated."""
        return self._out.protect(packet)

    def unprotect(self, packet: bytes) -> bytes | None:
        """The RTP packet inside an SRTP one; ``None`` for a forged, damaged or replayed packet."""
        try:
            return self._in.unprotect(packet)
        except LibSrtpError:
            self.rejected += 1
            return None
