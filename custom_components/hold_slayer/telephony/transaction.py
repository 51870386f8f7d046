"""Client transactions (RFC 3261 §17.1): retransmission over UDP, timeouts, ACK for INVITE errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from .errors import SipConnectionError, SipTimeoutError
from .sipmsg import SipMessage, request
from .transport import Address, SipTransport

_LOGGER = logging.getLogger(__name__)

T1: Final = 0.5
T2: Final = 4.0
TIMER_B: Final = 64 * T1  # 32 s: no response at all


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
    ) -> None:
        self.transport = transport
        self.request = req
        self.destination = destination
        self.timeout = timeout
        self.branch = req.top_via_branch or ""
        self.method = req.method or ""
        self._on_provisional = on_provisional
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        interval = T1
        reliable = self.transport.kind.value != "udp"
        self.transport.send(self.request, self.destination)
        while not self._final.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SipTimeoutError(f"no final response to {self.method} within {self.timeout:.1f} s")
            if reliable or (self.method == "INVITE" and self._provisional.is_set()):
                wait = remaining  # nothing to retransmit
            else:
                wait = min(interval, remaining)
            try:
                async with asyncio.timeout(wait):
                    await asyncio.shield(self._final)
            except TimeoutError:
                if not reliable and not (self.method == "INVITE" and self._provisional.is_set()):
                    self.transport.send(self.request, self.destination)
                    interval = interval * 2 if self.method == "INVITE" else min(interval * 2, T2)
        return self._final.result()

    @property
    def provisional_received(self) -> bool:
        """Whether any 1xx arrived (CANCEL is only allowed after one)."""
        return self._provisional.is_set()
