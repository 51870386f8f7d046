"""A scripted SIP peer for edge cases a real UA will not produce on demand.

It replays protocol behaviour the tests spell out (early media, a codec-less answer, INFO
digits, an offerless re-INVITE, a silent far end …). Every behaviour it stands in for also
has a test against baresip or Kamailio (see test_call.py and test_bridge.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
from dataclasses import dataclass, field

from custom_components.hold_slayer.telephony.sipmsg import (
    SipMessage,
    new_branch,
    request,
    response_to,
    uri_of,
)


def answer_sdp(port: int, pts: str = "0 101", direction: str = "sendrecv") -> bytes:
    """A simple SDP answer from 127.0.0.1."""
    return (
        "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP {pts}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        f"a={direction}\r\n"
    ).encode()


@dataclass
class ScriptedPeer(asyncio.DatagramProtocol):
    """A UDP SIP endpoint on 127.0.0.1 whose every answer the test chooses."""

    port: int = 0
    received: asyncio.Queue[SipMessage] = field(default_factory=asyncio.Queue)
    transport: asyncio.DatagramTransport | None = None
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    cseq: int = 100
    rtp: asyncio.DatagramTransport | None = None
    rtp_port: int = 0
    rtp_received: int = 0
    auto_reply: set[str] = field(default_factory=set)  # methods answered 200 without the test
    _rtp_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind SIP and RTP sockets."""
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        peer = self

        class _Rtp(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
                peer.rtp_received += 1

        self.rtp, _ = await loop.create_datagram_endpoint(_Rtp, local_addr=("127.0.0.1", 0))
        self.rtp_port = self.rtp.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """Queue every SIP message we get."""
        message = SipMessage.parse(data)
        message.source = (str(addr[0]), int(addr[1]))
        if message.method in self.auto_reply:
            self.reply(message, 200)
            return
        self.received.put_nowait(message)

    async def expect(self, method_or_status: str | int, within: float = 5.0) -> SipMessage:
        """The next message, which must be this request method or response status."""
        async with asyncio.timeout(within):
            message = await self.received.get()
        actual = message.method if isinstance(method_or_status, str) else message.status
        assert actual == method_or_status, f"expected {method_or_status}, got {message.start_line}"
        return message

    def send(self, message: SipMessage, to: tuple[str, int]) -> None:
        """Send raw."""
        assert self.transport is not None
        self.transport.sendto(message.encode(), to)

    def reply(
        self, req: SipMessage, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Answer ``req`` with our tag and a Contact."""
        extra = [("Contact", f"<sip:peer@127.0.0.1:{self.port}>"), *(headers or [])]
        if body:
            extra.append(("Content-Type", "application/sdp"))
        assert req.source is not None
        self.send(response_to(req, status, to_tag=self.tag, headers=extra, body=body), req.source)

    def in_dialog(
        self, invite: SipMessage, method: str, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> SipMessage:
        """A request from us (the callee) to the caller inside the INVITE's dialog."""
        self.cseq += 1
        return request(
            method,
            uri_of(invite.header("contact") or ""),
            [
                ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={new_branch()}"),
                ("From", f"{invite.header('to')};tag={self.tag}"),
                ("To", invite.header("from") or ""),
                ("Call-ID", invite.call_id),
                ("CSeq", f"{self.cseq} {method}"),
                *(headers or []),
            ],
            body,
        )

    def start_rtp(self, to: tuple[str, int], payload_type: int = 0) -> None:
        """Send 20 ms PCMU packets of a loud pattern to ``to`` until :meth:`stop_rtp`."""

        async def run() -> None:
            assert self.rtp is not None
            sequence, timestamp = 1, 0
            while True:
                packet = (
                    struct.pack("!BBHII", 0x80, payload_type, sequence, timestamp, 1234) + bytes([0x20]) * 160
                )
                self.rtp.sendto(packet, to)
                sequence, timestamp = sequence + 1, timestamp + 160
                await asyncio.sleep(0.02)

        self._rtp_task = asyncio.get_running_loop().create_task(run())

    async def stop_rtp(self) -> None:
        """Stop sending RTP."""
        if self._rtp_task is not None:
            self._rtp_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rtp_task
            self._rtp_task = None

    async def close(self) -> None:
        """Close both sockets."""
        await self.stop_rtp()
        if self.transport is not None:
            self.transport.close()
        if self.rtp is not None:
            self.rtp.close()
