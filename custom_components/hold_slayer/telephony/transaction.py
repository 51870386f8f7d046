"""Transactions (RFC 3261 §17): client and server, INVITE and non-INVITE, and the one T1/T2 loop.

:class:`ClientTransaction` sends a request until its final response; :class:`ServerTransaction`
answers a request we received and its repeats. Which message belongs to which transaction is
:class:`~.transaction_layer.TransactionLayer`'s business.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

from .errors import SipConnectionError, SipTimeoutError
from .sipmsg import SipMessage, request
from .transport import Address, SipTransport

_LOGGER = logging.getLogger(__name__)

T1: Final = 0.5
T2: Final = 4.0
TIMER_B: Final = 64 * T1  # 32 s: an INVITE without any response (after a 1xx, the caller's ring timeout)
TIMER_C: Final = 180.0  # a re-INVITE with a provisional response but no final one (a proxy's, §16.6)
TIMER_F: Final = 64 * T1  # 32 s: a non-INVITE request without a final response
TIMER_H: Final = 64 * T1  # 32 s: a UAS's final response to INVITE without an ACK
TIMER_D: Final = 32.0  # an INVITE's failure over UDP: its repeats are ACKed this long (RFC 3261 §17.1.1.2)
T4: Final = 5.0  # the longest a message may stay in the network
TIMER_I: Final = T4  # our INVITE failure's ACK came: its repeats are absorbed this long (UDP)
TIMER_J: Final = 64 * T1  # a non-INVITE request answered: its repeats get the answer again this long (UDP)
TIMER_L: Final = 64 * T1  # an INVITE answered 2xx: its repeats are absorbed this long (RFC 6026 §7.1)
MAGIC_COOKIE: Final = "z9hG4bK"  # a branch that starts so is unique (RFC 3261 §8.1.1.7)


def _never() -> bool:
    return False


async def retransmit(
    send: Callable[[], None],
    done: asyncio.Future[Any],
    *,
    timeout: float,
    reliable: bool = False,
    cap: float | None = T2,
    paused: Callable[[], bool] = _never,
    sent: bool = False,
) -> None:
    """Send now, then again after T1, 2·T1, 4·T1 … (capped at ``cap``) until ``done`` completes.

    The one retransmission loop of the stack (RFC 3261 §17.1.1.2, §17.1.2.2, §13.3.1.4,
    §17.2.1): client requests, the 2xx a UAS repeats until the ACK, and its final failures
    (Timer G). Nothing is repeated over a ``reliable`` transport or while ``paused()`` (an
    INVITE that got a provisional response). ``sent``: the caller sent the first copy itself.
    Raises :class:`TimeoutError` when ``done`` is still pending after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interval = T1
    if not sent:
        send()
    while not done.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError
        repeat = not reliable and not paused()
        try:
            async with asyncio.timeout(min(interval, remaining) if repeat else remaining):
                await asyncio.shield(done)
        except TimeoutError:
            # paused() again: a provisional response during the wait stops this repeat too.
            if repeat and not paused() and not done.done() and loop.time() < deadline:
                send()
                interval = interval * 2 if cap is None else min(interval * 2, cap)


class ClientTransaction:
    """One request and its responses; ``run()`` returns the final response."""

    def __init__(
        self,
        transport: SipTransport,
        req: SipMessage,
        destination: Address,
        *,
        timeout: float = TIMER_B,
        on_provisional: Callable[[SipMessage], None] | None = None,
        on_late_2xx: Callable[[SipMessage], None] | None = None,
    ) -> None:
        self.transport = transport
        self.request = req
        self.destination = destination
        self.timeout = timeout
        self.branch = req.top_via_branch or ""
        self.method = req.method or ""
        self._on_provisional = on_provisional
        # A 2xx to INVITE after the final one (a repeat, or another fork's answer) is the
        # caller's to acknowledge (RFC 6026 §7.2: passed up, not absorbed).
        self._on_late_2xx = on_late_2xx
        self._final: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._provisional = asyncio.Event()

    @property
    def key(self) -> tuple[str, str]:
        """What responses are matched on: top Via branch and CSeq method."""
        return (self.branch, self.method)

    def receive(self, response: SipMessage) -> None:
        """A response for this transaction arrived."""
        status = response.status or 0
        if status < 200:
            self._provisional.set()
            if self._on_provisional is not None and not self._final.done():
                self._on_provisional(response)
            return
        if self.method == "INVITE" and status >= 300:
            self._ack_error(response)  # also for retransmitted finals
        if not self._final.done():
            self._final.set_result(response)
        elif status < 300 and self._on_late_2xx is not None:
            self._on_late_2xx(response)

    @property
    def linger(self) -> float:
        """Seconds to stay after the final response: Timer D for an INVITE's failure over UDP.

        The far end repeats its failure until our ACK arrives; a lost ACK is sent again for
        each repeat (``receive``). Over TCP and TLS nothing is repeated, so nothing lingers.
        """
        final = self.final
        failed = final is not None and (final.status or 0) >= 300
        return TIMER_D if self.method == "INVITE" and failed and self.transport.kind.value == "udp" else 0.0

    @property
    def final(self) -> SipMessage | None:
        """The final response, once it came."""
        done = self._final.done() and not self._final.cancelled() and self._final.exception() is None
        return self._final.result() if done else None

    def _no_response(self) -> None:
        """Timer B: an INVITE nobody answered at all, not even with a provisional response."""
        if not self._provisional.is_set() and not self._final.done():
            self._final.set_exception(SipTimeoutError(f"no response to INVITE within {TIMER_B:.0f} s"))

    def _ack_error(self, response: SipMessage) -> None:
        """The hop-by-hop ACK for a non-2xx final response to INVITE (RFC 3261 §17.1.1.3)."""
        kept = ("Via", "From", "Call-ID", "Route")
        headers = [(name, value) for name, value in self.request.headers if name in kept]
        headers += [
            ("To", response.header("to") or ""),
            ("CSeq", f"{self.request.cseq} ACK"),
            ("Max-Forwards", "70"),
        ]
        try:
            self.transport.send(request("ACK", self.request.uri or "", headers), self.destination)
        except SipConnectionError as err:
            _LOGGER.debug("Could not ACK %s: %s", response.status, err)

    async def run(self) -> SipMessage:
        """Send (and over UDP retransmit) until a final response; raise on timeout.

        ``timeout`` bounds the whole transaction (an INVITE's: the ring timeout); an INVITE
        without any response also ends at Timer B, when that comes first.
        """
        invite = self.method == "INVITE"
        loop = asyncio.get_running_loop()
        timer_b = loop.call_later(TIMER_B, self._no_response) if invite and self.timeout > TIMER_B else None
        try:
            await retransmit(
                lambda: self.transport.send(self.request, self.destination),
                self._final,
                timeout=self.timeout,
                reliable=self.transport.kind.value != "udp",
                cap=None if invite else T2,  # INVITE doubles without a cap (timer A)
                paused=lambda: invite and self._provisional.is_set(),
            )
        except TimeoutError as err:
            raise SipTimeoutError(f"no final response to {self.method} within {self.timeout:.1f} s") from err
        finally:
            if timer_b is not None:
                timer_b.cancel()
        return self._final.result()

    @property
    def provisional_received(self) -> bool:
        """Whether any 1xx arrived (CANCEL is only allowed after one)."""
        return self._provisional.is_set()


class ServerState(StrEnum):
    """Where a server transaction is (RFC 3261 §17.2, with RFC 6026's Accepted)."""

    TRYING = "trying"  # non-INVITE, nothing sent yet
    PROCEEDING = "proceeding"  # a provisional response sent (an INVITE starts here)
    COMPLETED = "completed"  # a final response sent (for INVITE: a failure, repeated until its ACK)
    ACCEPTED = "accepted"  # INVITE answered 2xx: the UA core repeats it until the ACK
    CONFIRMED = "confirmed"  # the ACK for an INVITE's failure came
    TERMINATED = "terminated"


_SENT_BY = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*\S+\s+([^;\s]+)", re.IGNORECASE)


def server_key(req: SipMessage) -> tuple[str, ...]:
    """What a request is matched on to its server transaction (RFC 3261 §17.2.3).

    The top Via's branch and sent-by, and the method, ACK counting as the INVITE it
    acknowledges. A peer whose branches lack the magic cookie (RFC 2543) is matched on the
    Call-ID, From tag and CSeq number instead.
    """
    method = "INVITE" if req.method == "ACK" else req.method or ""
    branch = req.top_via_branch or ""
    if branch.startswith(MAGIC_COOKIE):
        vias = req.header_values("via")
        match = _SENT_BY.match(vias[0]) if vias else None
        return (branch, match.group(1).lower() if match else "", method)
    return (req.call_id, req.from_tag or "", str(req.cseq), method)


class ServerTransaction:
    """A request we received and our responses to it (RFC 3261 §17.2.1, §17.2.2; RFC 6026 §7.1).

    A repeat of the request gets our latest response again (nothing while none was sent).
    INVITE: a failure (3xx to 6xx) is repeated at T1, 2·T1 … T2 until its ACK (Timer G), for at
    most Timer H; the ACK's own repeats are absorbed for Timer I. A 2xx ends the transaction's
    duties: the UA core repeats it until the ACK, and repeats of the INVITE are absorbed for
    Timer L. A non-INVITE request's repeats get its final response for Timer J. Over TCP and
    TLS nothing is repeated and Timers I and J are zero.
    """

    def __init__(
        self,
        req: SipMessage,
        send: Callable[[SipMessage], None],
        *,
        reliable: bool,
        timer_h: float = TIMER_H,
        done: Callable[[ServerTransaction, float], None],
    ) -> None:
        self.request = req
        self.key = server_key(req)
        self.invite = req.method == "INVITE"
        self.state = ServerState.PROCEEDING if self.invite else ServerState.TRYING
        self.latest: SipMessage | None = None  # what a repeat of the request gets
        self._send = send
        self._reliable = reliable
        self._timer_h = timer_h
        self._done = done  # told once the transaction's duties end, and how long it absorbs repeats
        self._acked: asyncio.Future[None] | None = None
        self._repeating: asyncio.Task[None] | None = None

    def respond(self, response: SipMessage) -> None:
        """Send our response (from the UA core): provisional, final, or the core's repeat of a 2xx."""
        status = response.status or 0
        if self.state is ServerState.ACCEPTED:
            if 200 <= status < 300:
                self._send(response)  # the core's own repeats of its 2xx (RFC 6026 §7.1)
            return
        if self.state not in (ServerState.TRYING, ServerState.PROCEEDING):
            _LOGGER.debug("Not sending %s: %s already has its final response", status, self.request.method)
            return
        self.latest = response
        self._send(response)
        if status < 200:
            self.state = ServerState.PROCEEDING
        elif not self.invite:
            self.state = ServerState.COMPLETED
            self._done(self, 0.0 if self._reliable else TIMER_J)
        elif status < 300:
            self.state = ServerState.ACCEPTED
            self._done(self, TIMER_L)
        else:
            self.state = ServerState.COMPLETED
            self._acked = asyncio.get_running_loop().create_future()
            self._repeating = asyncio.get_running_loop().create_task(
                self._repeat_failure(response, self._acked), name=f"hold_slayer {status} until ACK"
            )

    def receive(self, req: SipMessage) -> bool:
        """The request again, or the ACK of our failure; whether it was dealt with here."""
        if req.method == "ACK":
            if self.state is ServerState.COMPLETED and self._acked is not None:
                self._acked.set_result(None)  # Timer G stops
                self.state = ServerState.CONFIRMED
                self._done(self, 0.0 if self._reliable else TIMER_I)
                return True
            # An ACK for our 2xx reusing the INVITE's branch (RFC 2543) is the UA core's.
            return self.state is ServerState.CONFIRMED
        if self.state in (ServerState.PROCEEDING, ServerState.COMPLETED) and self.latest is not None:
            self._send(self.latest)
        return True

    async def _repeat_failure(self, response: SipMessage, acked: asyncio.Future[None]) -> None:
        try:
            await retransmit(
                lambda: self._send(response), acked, timeout=self._timer_h, reliable=self._reliable, sent=True
            )
        except TimeoutError:
            _LOGGER.debug("No ACK for our %s within %.0f s", response.status, self._timer_h)
            self.state = ServerState.TERMINATED
            self._done(self, 0.0)

    def cancel(self) -> None:
        """Stop repeating (the phone stops)."""
        if self._repeating is not None:
            self._repeating.cancel()
