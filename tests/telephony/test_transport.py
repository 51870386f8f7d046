"""The SIP transport's own edges: keepalives, framing on streams, reconnect, handler bugs."""

from __future__ import annotations

import asyncio
import socket

import pytest

from custom_components.hold_slayer.telephony import SipConnectionError, Transport
from custom_components.hold_slayer.telephony.sipmsg import SipMessage
from custom_components.hold_slayer.telephony.transport import SipTransport
from harness.servers.kamailio import free_port

pytestmark = pytest.mark.usefixtures("socket_enabled")

OPTIONS = (
    b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx\r\n"
    b"From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: t\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


async def test_udp_keepalives_and_handler_errors() -> None:
    """Empty datagrams are keepalives; a handler that raises is counted, not fatal."""
    received: list[SipMessage] = []

    def handler(message: SipMessage, source: tuple[str, int]) -> None:
        received.append(message)
        if len(received) == 1:
            raise RuntimeError("bug in a handler")

    transport = SipTransport(Transport.UDP, handler)
    low = free_port(30000, 39000)
    port = await transport.open(range(low, low + 3), ("127.0.0.1", 9))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        for data in (b"\r\n\r\n", OPTIONS, OPTIONS):
            peer.sendto(data, ("127.0.0.1", port))
        await asyncio.sleep(0.1)
    assert len(received) == 2
    assert transport.dropped == 1
    transport.error_received(ConnectionRefusedError())
    await transport.close()
    with pytest.raises(SipConnectionError):
        transport.send(received[0], ("127.0.0.1", 9))


async def test_stream_framing_and_reconnect() -> None:
    """TCP: CRLF keepalives between messages, Content-Length framing, reconnect after a drop."""
    received: list[SipMessage] = []
    connections: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        writer.write(b"\r\n\r\n" + OPTIONS + b"\r\n" + OPTIONS)
        await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    server_port = server.sockets[0].getsockname()[1]
    transport = SipTransport(Transport.TCP, lambda message, source: received.append(message))
    low = free_port(30000, 39000)
    await transport.open(range(low, low + 3), ("127.0.0.1", server_port))
    await asyncio.sleep(0.2)
    assert len(received) == 2
    await transport.ensure_connected()  # still connected: nothing to do
    connections[0].close()  # the server drops us
    await asyncio.sleep(0.2)
    await transport.ensure_connected()
    await asyncio.sleep(0.2)
    assert len(connections) == 2
    assert len(received) == 4
    connections[1].write(b"INVITE sip:x SIP/2.0\r\nContent-Length: 999999999\r\n\r\n")  # cannot be framed
    await asyncio.sleep(0.2)
    with pytest.raises(SipConnectionError):
        transport.send(received[0], ("127.0.0.1", server_port))
    server.close()
    for connection in connections:
        connection.close()
    await server.wait_closed()
    with pytest.raises(SipConnectionError):
        await transport.ensure_connected()
    await transport.close()
