"""SIP transport over UDP, TCP or TLS on the asyncio event loop.

UDP uses one socket for everything. TCP and TLS use one connection to the registrar or the
outbound proxy (what a phone behind NAT does); every request and response travels on it.
Anything that does not parse is counted and dropped: a hostile datagram never raises. STUN
answers share the UDP socket with SIP (RFC 7983's first-byte rule tells them apart) and go to
``on_stun``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Final

from .account import Transport
from .errors import SipCertificateError, SipConfigError, SipConnectionError, SipTimeoutError
from .sipmsg import MAX_MESSAGE_BYTES, SipMessage, SipParseError
from .stun import is_stun

_LOGGER = logging.getLogger(__name__)

CONNECT_TIMEOUT: Final = 10.0
KEEPALIVE_PING: Final = b"\r\n\r\n"  # RFC 5626 §3.5.1; the pong is a single CRLF
Address = tuple[str, int]
MessageHandler = Callable[[SipMessage, Address], None]
DatagramHandler = Callable[[bytes, Address], None]


class SipTransport(asyncio.DatagramProtocol):
    """Sends and receives SIP messages; hands each parsed one to ``on_message``."""

    def __init__(
        self,
        kind: Transport,
        on_message: MessageHandler,
        *,
        on_stun: DatagramHandler | None = None,
        bind_host: str = "0.0.0.0",
    ) -> None:
        self.kind = kind
        self.bind_host = bind_host  # 127.0.0.1 keeps a local-only endpoint (the demo line) off the LAN
        self.on_message = on_message
        self.on_stun = on_stun
        self.local_port: int | None = None
        self.dropped = 0
        self.keepalives_received = 0  # CRLF pongs (and pings) from the server: never an error
        self._datagram: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._server: Address | None = None
        self._ports: range | None = None
        self._tls: ssl.SSLContext | None = None

    @property
    def via_transport(self) -> str:
        """The transport token for Via headers."""
        return self.kind.value.upper()

    # -- opening --------------------------------------------------------------------------------

    async def open(self, ports: range, server: Address) -> int:
        """Bind the first free local port of ``ports`` (and connect to ``server`` for TCP/TLS)."""
        self._server = server
        self._ports = ports
        if self.kind is Transport.TLS:
            # The default context verifies the registrar's certificate and name.
            self._tls = await asyncio.get_running_loop().run_in_executor(None, ssl.create_default_context)
        last_error: OSError | None = None
        for port in ports:
            try:
                if self.kind is Transport.UDP:
                    await asyncio.get_running_loop().create_datagram_endpoint(
                        lambda: self, local_addr=(self.bind_host, port)
                    )
                else:
                    await self._connect(port)
            except OSError as err:
                if err.errno == errno.EADDRINUSE:
                    last_error = err
                    continue
                raise _connection_error(err) from err
            self.local_port = port
            return port
        raise SipConfigError(f"no free local SIP port in {ports.start}-{ports.stop - 1}: {last_error}")

    async def _connect(self, port: int) -> None:
        assert self._server is not None
        host, server_port = self._server
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, server_port, family=socket.AF_INET, type=socket.SOCK_STREAM)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Reconnecting from the same port must work while the old connection is in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setblocking(False)
            sock.bind((self.bind_host, port))
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await loop.sock_connect(sock, infos[0][4])
                reader, writer = await asyncio.open_connection(
                    sock=sock, ssl=self._tls, server_hostname=host if self._tls else None
                )
        except BaseException:
            sock.close()
            raise
        self._writer = writer
        self._reader_task = loop.create_task(self._read_stream(reader), name="hold_slayer SIP stream")

    async def ensure_connected(self) -> None:
        """Reconnect a dropped TCP/TLS connection (same local port)."""
        if self.kind is Transport.UDP or (self._writer is not None and not self._writer.is_closing()):
            return
        assert self.local_port is not None
        try:
            await self._connect(self.local_port)
        except (OSError, TimeoutError) as err:
            raise _connection_error(err) from err

    # -- receiving ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the datagram transport."""
        assert isinstance(transport, asyncio.DatagramTransport)
        self._datagram = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """One UDP datagram: one message, a STUN answer, or a keep-alive (CRLFs only), counted and dropped."""
        source = (str(addr[0]), int(addr[1]))
        if is_stun(data):
            if self.on_stun is None:
                self.dropped += 1
            else:
                self.on_stun(data, source)
            return
        if not data.strip(b"\r\n\x00 "):
            self.keepalives_received += 1
            return
        self._deliver(data, source)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors for UDP: the transaction timers deal with the silence."""
        _LOGGER.debug("SIP socket error: %s", exc)

    def _deliver(self, data: bytes, source: Address) -> None:
        try:
            message = SipMessage.parse(data)
        except SipParseError as err:
            self.dropped += 1
            _LOGGER.debug("Dropped an unparsable SIP message from %s: %s", source[0], err)
            return
        try:
            self.on_message(message, source)
        except Exception:  # a bug in one handler must not end the transport
            self.dropped += 1
            _LOGGER.exception("Error handling a SIP %s", message.method or message.status)

    async def _read_stream(self, reader: asyncio.StreamReader) -> None:
        assert self._server is not None
        source = self._server
        try:
            while True:
                # CRLF keepalives (RFC 5626) may sit between messages.
                head = (await reader.readuntil(b"\r\n\r\n")).lstrip(b"\r\n")
                if not head:
                    continue
                body = await reader.readexactly(_content_length(head))
                self._deliver(head + body, source)
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            ValueError,
            OSError,
        ) as err:
            _LOGGER.debug("SIP connection closed: %s", err)
        finally:
            if self._writer is not None:
                self._writer.close()

    # -- sending --------------------------------------------------------------------------------

    def send(self, message: SipMessage, destination: Address) -> None:
        """Send a message; over TCP/TLS ``destination`` is the connection's peer."""
        data = message.encode()
        if self.kind is Transport.UDP:
            if self._datagram is None:
                raise SipConnectionError("SIP transport is closed")
            self._datagram.sendto(data, destination)
        else:
            if self._writer is None or self._writer.is_closing():
                raise SipConnectionError("SIP connection is closed")
            self._writer.write(data)

    def send_datagram(self, data: bytes, destination: Address) -> None:
        """Send bytes that are no SIP message (a STUN request, a keep-alive ping) from the UDP socket."""
        if self.kind is not Transport.UDP or self._datagram is None:
            raise SipConnectionError("no SIP UDP socket is open")
        self._datagram.sendto(data, destination)

    def send_keepalive(self, destination: Address) -> None:
        """A double-CRLF ping; over TCP/TLS ``destination`` is the connection's peer."""
        if self.kind is Transport.UDP:
            self.send_datagram(KEEPALIVE_PING, destination)
        else:
            if self._writer is None or self._writer.is_closing():
                raise SipConnectionError("SIP connection is closed")
            self._writer.write(KEEPALIVE_PING)

    async def close(self) -> None:
        """Close the socket or connection and end the reader."""
        if self._datagram is not None:
            self._datagram.close()
            self._datagram = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
            self._reader_task = None


def _content_length(head: bytes) -> int:
    """The Content-Length of a stream-framed message (RFC 3261 §18.3: mandatory on streams)."""
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            length = int(value.strip() or b"0")
    if not 0 <= length <= MAX_MESSAGE_BYTES:
        raise ValueError("bad Content-Length")
    return length


def _connection_error(err: OSError | TimeoutError) -> SipConnectionError | SipTimeoutError:
    if isinstance(err, TimeoutError):
        return SipTimeoutError(f"no connection within {CONNECT_TIMEOUT} s")
    if isinstance(err, ssl.SSLCertVerificationError):
        return SipCertificateError(err.verify_message or str(err))
    return SipConnectionError(f"{type(err).__name__}: {err}")
