"""STUN Binding requests from the SIP socket (RFC 8489): the public address a home router gives it.

A trunk without registration has no registrar to report where our requests came from (RFC 3581
``received``/``rport``), and some registrars never report it; a STUN server answers the same
question. The request leaves from the SIP socket itself, so the mapping it reports is the one
SIP uses, on a router that maps each local port to one public port whatever the destination
(endpoint-independent mapping, RFC 4787, what most home routers do). Behind a symmetric NAT the
answer is the mapping towards the STUN server only, and no STUN answer helps.

aioice (aiortc's ICE) encodes, decodes and retransmits the messages (RFC 8489 §6.2.1); this
module only routes them through the SIP transport and back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from aioice import stun

from .errors import SipStunError

_LOGGER = logging.getLogger(__name__)

# Sent at 0, 0.5, 1.5 and 3.5 s, given up at 7.5 s: a STUN server is one round trip away, and
# start-up (the config flow's test among it) should not wait the RFC's 39.5 s for a wrong name.
RETRANSMISSIONS: Final = 3
_COOKIE: Final = stun.COOKIE.to_bytes(4, "big")

Address = tuple[str, int]


def is_stun(data: bytes) -> bool:
    """A STUN message, not SIP: first byte 0-3 (RFC 7983 §7), then the magic cookie (RFC 8489 §5)."""
    return len(data) >= stun.HEADER_LENGTH and data[0] < 4 and data[4:8] == _COOKIE


class StunClient:
    """Binding transactions sent through ``send`` (the SIP socket); answers arrive via :meth:`received`."""

    def __init__(self, send: Callable[[bytes, Address], None]) -> None:
        self._send = send
        self._pending: dict[bytes, stun.Transaction] = {}
        self.dropped = 0  # answers to nothing we asked, and unparsable ones

    def send_stun(self, message: stun.Message, addr: Address) -> None:
        """Send one message (aioice's ``TransactionSender``, used for each retransmission)."""
        self._send(bytes(message), addr)

    async def mapped_address(self, server: Address) -> Address:
        """Where ``server`` saw our request come from; raise :class:`SipStunError` without an answer."""
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        transaction = stun.Transaction(request, server, self, retransmissions=RETRANSMISSIONS)
        self._pending[request.transaction_id] = transaction
        where = f"{server[0]}:{server[1]}"
        try:
            response, _source = await transaction.run()
        except stun.TransactionTimeout as err:
            raise SipStunError(f"no answer from the STUN server {where}") from err
        except stun.TransactionFailed as err:
            raise SipStunError(f"the STUN server {where} answered {err.response.error_code}") from err
        finally:
            del self._pending[request.transaction_id]
        # XOR-MAPPED-ADDRESS (RFC 8489); MAPPED-ADDRESS from servers of RFC 3489's time.
        mapped = response.attributes.get("XOR-MAPPED-ADDRESS") or response.attributes.get("MAPPED-ADDRESS")
        if not mapped:
            raise SipStunError(f"the STUN server {where} did not say our address")
        return str(mapped[0]), int(mapped[1])

    def received(self, data: bytes, source: Address) -> None:
        """A STUN datagram on the SIP socket: the answer to one of our transactions, or dropped."""
        try:
            message = stun.parse_message(data)
        except Exception:  # noqa: BLE001 - a hostile datagram is dropped, whatever breaks in decoding it
            self.dropped += 1
            _LOGGER.debug("Dropped an unparsable STUN message from %s", source[0])
            return
        transaction = self._pending.get(message.transaction_id)
        if transaction is None or message.message_class not in (stun.Class.RESPONSE, stun.Class.ERROR):
            self.dropped += 1  # a request to us, or a late answer
            return
        transaction.response_received(message, source)
