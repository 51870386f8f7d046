"""Client transactions (RFC 3261 §17.1) and the one T1/T2 retransmission loop the stack uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from .errors import SipConnectionError, SipTimeoutError
from .sipmsg import SipMessage, request
from .transport import Address, SipTransport

_LOGGER = logging.getLogger(__name__)

T1: Final = 0.5
T2: Final = 4.0
TIMER_B: Final = 64 * T1  # 32 s: no response at all
TIMER_H: Final = 64 * T1  # 32 s: a UAS's final response to INVITE without an ACK
TIMER_D: Final = 32.0  # an INVITE's failure over UDP: its repeats are ACKed this long (RFC 3261 §17.1.1.2)


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
        return self._final.result() if self._final.done() and not self._final.cancelled() else None

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
        """Send (and over UDP retransmit) until a final response; raise on timeout."""
        invite = self.method == "INVITE"
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
        return self._final.result()

    @property
    def provisional_received(self) -> bool:
        """Whether any 1xx arrived (CANCEL is only allowed after one)."""
        return self._provisional.is_set()
