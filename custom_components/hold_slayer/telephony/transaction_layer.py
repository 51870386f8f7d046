"""The transaction layer of one phone (RFC 3261 §17): what arrives, matched to its transaction.

Responses go to the client transaction that sent the request (§17.1.3: top Via branch and CSeq
method); a finished INVITE whose failure may come again lingers for Timer D. Requests are
matched to a server transaction (§17.2.3): a repeat is answered from there and never reaches
the UA core, which sees each request once and answers it through :meth:`respond`. Finished
server transactions stay for their Timers I, J and L, then go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from .errors import SipError
from .sipmsg import SipMessage
from .transaction import TIMER_H, ClientTransaction, ServerTransaction, server_key
from .transport import Address, SipTransport

_LOGGER = logging.getLogger(__name__)


class TransactionLayer:
    """Client and server transactions over one transport."""

    def __init__(self, transport: SipTransport) -> None:
        self.transport = transport
        # Timer H as an attribute so tests can shorten it: a failure repeated without its ACK.
        self.timer_h: float = TIMER_H
        self._clients: dict[tuple[str, str], ClientTransaction] = {}
        self._lingering: dict[tuple[str, str], asyncio.TimerHandle] = {}  # finished INVITEs, Timer D
        self._servers: dict[tuple[str, ...], ServerTransaction] = {}
        self._expiring: dict[tuple[str, ...], asyncio.TimerHandle] = {}  # finished, Timers I, J, L

    @property
    def reliable(self) -> bool:
        """Whether the transport delivers by itself (TCP, TLS): nothing is repeated."""
        return self.transport.kind.value != "udp"

    # -- client transactions ----------------------------------------------------------------------

    def client(self, req: SipMessage, destination: Address, **options: Any) -> ClientTransaction:
        """A client transaction for ``req`` (run it inside :meth:`track`)."""
        return ClientTransaction(self.transport, req, destination, **options)

    @contextlib.contextmanager
    def track(self, transaction: ClientTransaction) -> Iterator[None]:
        """Route responses to ``transaction`` while the block runs, and while it lingers after (Timer D)."""
        self._clients[transaction.key] = transaction
        try:
            yield
        finally:
            if linger := transaction.linger:
                handle = asyncio.get_running_loop().call_later(linger, self._forget_client, transaction)
                self._lingering[transaction.key] = handle
            else:
                self._clients.pop(transaction.key, None)

    def _forget_client(self, transaction: ClientTransaction) -> None:
        self._lingering.pop(transaction.key, None)
        if self._clients.get(transaction.key) is transaction:
            del self._clients[transaction.key]

    def receive_response(self, response: SipMessage) -> bool:
        """Give ``response`` to its client transaction; ``False``: none takes it (the UA core's).

        A lingering INVITE (Timer D) takes repeats of its failure; a 2xx after it (an answer
        that crossed our CANCEL) is the dialog's business, as it is once Timer D has passed.
        """
        key = (response.top_via_branch or "", response.cseq_method)
        transaction = self._clients.get(key)
        if transaction is None or (key in self._lingering and 200 <= (response.status or 0) < 300):
            return False
        transaction.receive(response)
        return True

    # -- server transactions ----------------------------------------------------------------------

    def receive_request(self, req: SipMessage) -> bool:
        """Whether ``req`` was dealt with here: a repeat, or the ACK of our failure.

        Otherwise it is new: a server transaction is opened for it (none for an ACK of a 2xx,
        which is the UA core's) and the core must answer it through :meth:`respond`.
        """
        key = server_key(req)
        if (transaction := self._servers.get(key)) is not None:
            return transaction.receive(req)
        if req.method == "ACK" and (failed := self._failure_acked_apart(req)) is not None:
            return failed.receive(req)
        if req.method != "ACK":
            self._servers[key] = ServerTransaction(
                req,
                lambda message: self._send(message, req),
                reliable=self.reliable,
                timer_h=self.timer_h,
                done=self._finished,
            )
        return False

    def _failure_acked_apart(self, ack: SipMessage) -> ServerTransaction | None:
        """The INVITE whose failure ``ack`` acknowledges in a new branch, as some callers do.

        RFC 3261 §17.1.1.3 wants the INVITE's branch; sipp's scenarios and some UAs send a new
        one. The ACK still names the dialog our failure set up: Call-ID, its To tag, the CSeq.
        """
        for transaction in self._servers.values():
            failure = transaction.latest
            if (
                transaction.invite
                and failure is not None
                and (failure.status or 0) >= 300
                and transaction.request.call_id == ack.call_id
                and transaction.request.cseq == ack.cseq
                and failure.to_tag == ack.to_tag
            ):
                return transaction
        return None

    def respond(self, req: SipMessage, response: SipMessage) -> None:
        """Send our response to ``req`` through its server transaction."""
        transaction = self._servers.get(server_key(req))
        if transaction is None:
            self._send(response, req)  # its transaction has ended: the core's late repeat of a 2xx
            return
        transaction.respond(response)

    def _send(self, response: SipMessage, req: SipMessage) -> None:
        if req.source is None:
            _LOGGER.debug("No address to answer %s to", req.method)
            return
        try:
            self.transport.send(response, req.source)
        except SipError as err:
            _LOGGER.debug("Could not respond %s: %s", response.status, err)

    def _finished(self, transaction: ServerTransaction, absorb: float) -> None:
        """``transaction``'s duties are over: it stays ``absorb`` seconds for repeats, then goes."""
        if absorb <= 0:
            self._forget_server(transaction)
            return
        loop = asyncio.get_running_loop()
        self._expiring[transaction.key] = loop.call_later(absorb, self._forget_server, transaction)

    def _forget_server(self, transaction: ServerTransaction) -> None:
        if self._servers.get(transaction.key) is transaction:
            del self._servers[transaction.key]
            if (handle := self._expiring.pop(transaction.key, None)) is not None:
                handle.cancel()

    # -- the end ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Forget finished and server transactions and stop their timers (the phone stops).

        Client transactions still running (a deregistration) finish by themselves.
        """
        for key, handle in self._lingering.items():
            handle.cancel()
            self._clients.pop(key, None)
        for handle in self._expiring.values():
            handle.cancel()
        for server in self._servers.values():
            server.cancel()
        self._lingering.clear()
        self._servers.clear()
        self._expiring.clear()

    @property
    def open_count(self) -> int:
        """Transactions kept: client (lingering ones too) and server (absorbing ones too)."""
        return len(self._clients) + len(self._servers)
