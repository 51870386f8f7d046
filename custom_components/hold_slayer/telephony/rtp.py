"""RTP media for one call leg (RFC 3550, RFC 4733), on the asyncio event loop.

``MediaStream`` owns one UDP socket. A clock, not packet arrival, drives both ways: every
20 ms of time delivers exactly one 160-sample frame to the listeners (silence when nothing
arrived, never a backlog of stale audio) and sends exactly one packet (playback, bridged audio,
an RFC 4733 event or silence), so the far end always receives a steady stream.

One :class:`MediaClock` serves every stream of a phone, and sockets are read on the tick
rather than on readiness: waking the event loop is what costs CPU (on a 2-core VM a bare 50 Hz
asyncio timer alone costs 1.1 % of a core, and every wake-up runs on cold caches), so N calls
share the wake-ups. While no stream has anything to say (a call that is only listening on
hold, which is most of a call's life) the clock ticks every 40 ms and moves two frames each
way per tick, halving the wake-ups; playback, DTMF or a bridge bring the 20 ms tick back within
one tick, so what we send and bridge keeps 20 ms pacing. Only silence is ever sent in pairs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import struct
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from . import g711
from .g711 import FRAME_SAMPLES, Pcm
from .sdp import PCMA, Direction
from .srtp import SrtpContext

_LOGGER = logging.getLogger(__name__)

TICK: Final = 0.020
RELAXED_FRAMES: Final = 2  # frames per tick while only listening (a 40 ms tick)
REALTIME_LINGER: Final = 1.0  # seconds of 20 ms ticks after the last playback, bridge frame or digit
JITTER_DEPTH: Final = 2  # packets held before playout starts (40 ms, plus the tick's extra frames)
JITTER_MAX: Final = 8  # beyond this the oldest audio is dropped (latency bound, 160 ms)
RESYNC_AHEAD: Final = 100  # a sequence jump further than this restarts the buffer
RESYNC_BEHIND: Final = 4
# The socket is read once per tick (up to 40 ms): room for bursts and for junk aimed at the port
# (a 64 KB datagram fills a third of Linux's default 208 KB). The kernel caps it at rmem_max.
RECEIVE_BUFFER: Final = 1 << 20
DRAIN_PER_FRAME: Final = 64  # datagrams read per 20 ms at most: a flood cannot stall the loop
LISTENER_QUEUE: Final = 50  # frames a slow listener may lag before losing the oldest (1 s)
BRIDGE_QUEUE: Final = 3  # bridged frames waiting to be sent (60 ms)
DTMF_EVENTS: Final = "0123456789*#ABCD"
DTMF_END_PACKETS: Final = 3
_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """The parts of an RTP packet we use."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket | None:
        """Parse a datagram; ``None`` if it is not RTP version 2."""
        if len(data) < _HEADER.size:
            return None
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != 2:
            return None
        offset = _HEADER.size + 4 * (first & 0x0F)
        if first & 0x10:  # header extension
            if len(data) < offset + 4:
                return None
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data)
        if first & 0x20 and end > offset:  # padding
            end -= data[-1]
        if end < offset:
            return None
        return cls(second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, data[offset:end])

    def encode(self) -> bytes:
        """Serialise (version 2, no CSRC, no extension)."""
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return (
            _HEADER.pack(0x80, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
            + self.payload
        )


@dataclass(slots=True)
class MediaStats:
    """Counters for diagnostics and tests."""

    packets_received: int = 0
    packets_sent: int = 0
    packets_lost: int = 0
    packets_late: int = 0
    packets_dropped_source: int = 0
    packets_dropped_overflow: int = 0
    resyncs: int = 0
    frames_delivered: int = 0
    frames_silent: int = 0
    listener_overflows: int = 0
    dtmf_received: str = ""
    last_packet_at: float | None = None
    # Recent delays in seconds: packet arrival → frame delivered, and bridged frame → sent.
    playout_delays: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    bridge_delays: deque[float] = field(default_factory=lambda: deque(maxlen=500))


def _seq_diff(a: int, b: int) -> int:
    """``a - b`` on the 16-bit sequence circle, in -32768..32767."""
    return (a - b + 0x8000) % 0x10000 - 0x8000


class JitterBuffer:
    """Reorders packets by sequence number and plays them out one 20 ms frame at a time.

    It does not advance while nothing is buffered, so silence suppression at the far end
    (no packets, sequence numbers continue afterwards) is not mistaken for loss; nor do the
    sequence numbers RFC 4733 events take (:meth:`skip`) become concealed audio, which would
    add a packet of delay for every event packet.
    """

    def __init__(self, stats: MediaStats, depth: int = JITTER_DEPTH, maximum: int = JITTER_MAX) -> None:
        self._stats = stats
        self._depth = depth
        self._max = maximum
        self._packets: dict[int, tuple[float, Pcm]] = {}
        self._next: int | None = None
        self._ssrc: int | None = None
        self._primed = False
        self._pending: Pcm = np.zeros(0, dtype=np.int16)
        self._skipped: set[int] = set()  # sequence numbers that carried no audio (events)

    def push(self, packet: RtpPacket, samples: Pcm) -> None:
        """Add a decoded packet."""
        if self._next is None or packet.ssrc != self._ssrc:
            self._restart(packet)
        assert self._next is not None
        diff = _seq_diff(packet.sequence, self._next)
        if diff > RESYNC_AHEAD or diff < -RESYNC_BEHIND:
            self._stats.resyncs += 1
            self._restart(packet)
        elif diff < 0:
            self._stats.packets_late += 1
            return
        self._packets[packet.sequence] = (time.monotonic(), samples)
        while len(self._packets) > self._max:  # the far end runs fast or we stalled: stay current
            oldest = min(self._packets, key=lambda seq: _seq_diff(seq, self._next or 0))
            del self._packets[oldest]
            self._next = (oldest + 1) & 0xFFFF
            self._stats.packets_dropped_overflow += 1

    def _restart(self, packet: RtpPacket) -> None:
        self._packets.clear()
        self._skipped.clear()
        self._next = packet.sequence
        self._ssrc = packet.ssrc
        self._primed = False

    def skip(self, packet: RtpPacket) -> None:
        """A packet of the same stream that is not audio (an RFC 4733 event): no gap to conceal."""
        if self._next is None or packet.ssrc != self._ssrc:
            return
        diff = _seq_diff(packet.sequence, self._next)
        if 0 <= diff <= RESYNC_AHEAD:
            self._skipped.add(packet.sequence)
            if len(self._skipped) > JITTER_MAX * 8:  # never played past (a stalled stream): forget
                self._skipped.clear()

    def pop(self, ahead: int = 0) -> Pcm | None:
        """The next 160 samples, or ``None`` when there is nothing to play.

        ``ahead`` is how many more frames this tick will take: a 40 ms tick empties two packets
        at once, so the cushion it starts from must be one packet deeper to stay as safe.
        """
        if not self._primed:
            if len(self._packets) < self._depth + ahead:
                return None
            self._primed = True
        while len(self._pending) < FRAME_SAMPLES and self._packets:
            assert self._next is not None
            if self._next in self._skipped:
                self._skipped.discard(self._next)
                self._next = (self._next + 1) & 0xFFFF
                continue
            entry = self._packets.pop(self._next, None)
            if entry is None:  # lost: conceal with silence of a typical packet
                self._stats.packets_lost += 1
                samples: Pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            else:
                arrived, samples = entry
                self._stats.playout_delays.append(time.monotonic() - arrived)
            self._pending = np.concatenate((self._pending, samples))
            self._next = (self._next + 1) & 0xFFFF
        if len(self._pending) == 0:
            self._primed = False  # underrun: build the cushion again
            return None
        frame: Pcm = self._pending[:FRAME_SAMPLES]
        self._pending = self._pending[FRAME_SAMPLES:]
        if len(frame) < FRAME_SAMPLES:
            frame = np.concatenate((frame, np.zeros(FRAME_SAMPLES - len(frame), dtype=np.int16)))
        return frame


@dataclass(slots=True)
class _Playback:
    samples: Pcm
    done: asyncio.Future[bool]
    position: int = 0


@dataclass(slots=True)
class _DtmfSend:
    event: int
    ticks: int
    done: asyncio.Future[None]
    tick: int = 0
    timestamp: int | None = None


@dataclass(slots=True)
class _Listener:
    queue: asyncio.Queue[Pcm | None] = field(default_factory=lambda: asyncio.Queue(LISTENER_QUEUE))


class MediaClock:
    """One timer for all media streams of a phone; it runs only while streams exist.

    It ticks every 20 ms while any stream is :attr:`~MediaStream.realtime`, else every 40 ms
    with two frames per tick. Deadlines are absolute, so every 20 ms of wall time is exactly
    one frame whichever the pace.
    """

    def __init__(self) -> None:
        self._streams: list[MediaStream] = []
        self._timer: asyncio.TimerHandle | None = None
        self._served = 0.0  # loop time up to which frames have been moved
        self._frames = 1  # frames the pending tick will move

    def add(self, stream: MediaStream) -> None:
        """Tick ``stream`` from now on."""
        if stream in self._streams:
            return
        self._streams.append(stream)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._served = loop.time()
            self._schedule(loop, 1)

    @property
    def interval(self) -> float:
        """Seconds between ticks now: 0.02 while a stream is real-time, else 0.04."""
        return self._frames * TICK

    def hurry(self) -> None:
        """A stream has something to send: tick at 20 ms from the last tick on."""
        if self._timer is None or self._frames == 1:
            return
        self._timer.cancel()
        self._schedule(asyncio.get_running_loop(), 1)

    def _schedule(self, loop: asyncio.AbstractEventLoop, frames: int) -> None:
        self._frames = frames
        self._timer = loop.call_at(self._served + frames * TICK, self._fire)

    def remove(self, stream: MediaStream) -> None:
        """Stop ticking ``stream``; the timer stops with the last one."""
        if stream in self._streams:
            self._streams.remove(stream)
        if not self._streams and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        frames = self._frames
        # Every stream receives before any sends, so audio bridged between two streams of
        # this clock leaves in the tick it arrived in.
        for phase in (MediaStream.receive, MediaStream.transmit):
            for stream in list(self._streams):
                try:
                    phase(stream, frames)
                except Exception:  # one broken stream must not stop the others' audio
                    _LOGGER.exception("Media tick failed; closing the stream")
                    self.remove(stream)
        if not self._streams:
            self._timer = None
            return
        self._served += frames * TICK
        if self._served < loop.time() - 0.2:  # the loop stalled: do not burst, restart from now
            self._served = loop.time()
        realtime = any(stream.realtime for stream in self._streams)
        self._schedule(loop, 1 if realtime else RELAXED_FRAMES)


class MediaStream:
    """One RTP stream: a socket, a jitter buffer, playback, bridge feed and DTMF."""

    def __init__(
        self,
        local_ip: str,
        on_dtmf: Callable[[str], None] | None = None,
        clock: MediaClock | None = None,
        *,
        bind_host: str = "0.0.0.0",
    ) -> None:
        self.local_ip = local_ip
        self.bind_host = bind_host
        self.local_port: int | None = None
        self.stats = MediaStats()
        self.remote: tuple[str, int] | None = None
        self._sdp_remote: tuple[str, int] | None = None
        self.payload_type = 0
        self.event_pt: int | None = None
        self.srtp: SrtpContext | None = None  # once SRTP keys are negotiated (RFC 4568); None: plain RTP
        self.direction = Direction.SENDRECV
        self.on_dtmf = on_dtmf
        self._socket: socket.socket | None = None
        self._latched = False
        self._jitter = JitterBuffer(self.stats)
        self._listeners: list[_Listener] = []
        self._playback: deque[_Playback] = deque()
        self._bridged: deque[tuple[float, Pcm]] = deque(maxlen=BRIDGE_QUEUE)
        self._dtmf_out: deque[_DtmfSend] = deque()
        self._dtmf_seen: set[tuple[int, int]] = set()
        self._clock = clock or MediaClock()
        self._ticking = False
        self._closed = False
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._first_packet = True
        self._realtime_until = 0.0
        self._sinks: list[MediaStream] = []  # streams that get every frame we receive (a bridge)
        # Since when the far end owes us RTP (answered, or back from a hold); None: not watched.
        self._expected_since: float | None = None

    # -- socket -----------------------------------------------------------------------------------

    async def open(self, ports: range) -> int:
        """Bind a free even port in ``ports`` (RTCP would take the odd one above)."""
        return self.bind(ports)

    def bind(self, ports: range) -> int:
        """:meth:`open` without a loop turn: an incoming INVITE is answered in one callback."""
        candidates = [port for port in ports if port % 2 == 0] or list(ports)
        start = secrets.randbelow(len(candidates))
        last_error: OSError | None = None
        for port in candidates[start:] + candidates[:start]:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.bind_host, port))
            except OSError as err:
                sock.close()
                last_error = err
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self._socket = sock
            self.local_port = port
            return port
        raise OSError(f"no free RTP port in {ports.start}-{ports.stop - 1}: {last_error}")

    def _drain(self, frames: int) -> None:
        """Read every datagram that arrived since the last tick (``frames`` ticks of 20 ms ago)."""
        sock = self._socket
        if sock is None:
            return
        for _ in range(DRAIN_PER_FRAME * frames):
            try:
                data, addr = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # ICMP errors while a far end restarts
                _LOGGER.debug("RTP socket error: %s", err)
                continue
            self._receive(data, addr)

    def _receive(self, data: bytes, addr: tuple[str, int]) -> None:
        """A datagram arrived: accept RTP from the negotiated peer only."""
        if self.remote is None or addr[0] != self.remote[0]:
            self.stats.packets_dropped_source += 1
            return
        if addr[1] != self.remote[1] and self._latched:
            # A second source port on the same host: not the peer's stream.
            self.stats.packets_dropped_source += 1
            return
        if self.srtp is not None:
            plain = self.srtp.unprotect(data)
            if plain is None:
                return  # not authentic: it neither plays nor latches
            data = plain
        if addr[1] != self.remote[1]:
            self.remote = (self.remote[0], int(addr[1]))  # symmetric RTP behind NAT
        self._latched = True
        packet = RtpPacket.parse(data)
        if packet is None:
            return
        self.stats.packets_received += 1
        self.stats.last_packet_at = time.monotonic()
        if self.event_pt is not None and packet.payload_type == self.event_pt:
            self._jitter.skip(packet)
            self._receive_event(packet)
        elif packet.payload_type == self.payload_type and self.direction in (
            Direction.SENDRECV,
            Direction.RECVONLY,
        ):
            self._jitter.push(packet, g711.decode(packet.payload, alaw=self.payload_type == PCMA))

    def _receive_event(self, packet: RtpPacket) -> None:
        if len(packet.payload) < 4 or packet.payload[0] >= len(DTMF_EVENTS):
            return
        key = (packet.ssrc, packet.timestamp)
        if key in self._dtmf_seen:
            return
        self._dtmf_seen.add(key)
        if len(self._dtmf_seen) > 64:
            self._dtmf_seen = {key}
        digit = DTMF_EVENTS[packet.payload[0]]
        self.stats.dtmf_received += digit
        if self.on_dtmf is not None:
            self.on_dtmf(digit)

    # -- negotiation --------------------------------------------------------------------------

    def set_remote(
        self, address: str, port: int, payload_type: int, event_pt: int | None, direction: Direction
    ) -> None:
        """Apply negotiated media (an answer or a re-INVITE); ``direction`` is ours."""
        expected_before = self.expects_media
        if self._sdp_remote != (address, port):  # a new destination: latch afresh
            self._sdp_remote = (address, port)
            self.remote = (address, port)
            self._latched = False
        self.payload_type = payload_type
        self.event_pt = event_pt
        self.direction = direction
        if self._expected_since is not None and self.expects_media and not expected_before:
            self._expected_since = time.monotonic()  # back from a hold: the silence counts from now

    @property
    def expects_media(self) -> bool:
        """Whether the far end should be sending RTP, by the negotiated direction (RFC 3264 §5.1).

        Our ``sendonly`` or ``inactive`` (the far end's ``recvonly`` or ``inactive`` hold) means
        it sends nothing by agreement; so does an RFC 2543-style hold (``c=0.0.0.0``), which old
        PBXs send without a direction. RTCP is never required: many peers send none.
        """
        if self._sdp_remote is not None and self._sdp_remote[0] == "0.0.0.0":
            return False
        return self.direction in (Direction.SENDRECV, Direction.RECVONLY)

    def watch(self) -> None:
        """Start counting silence for :meth:`seconds_without_media` (the call was answered)."""
        if self._expected_since is None:
            self._expected_since = time.monotonic()

    def seconds_without_media(self) -> float | None:
        """How long the far end owed us RTP and sent none; ``None`` while none is owed.

        Counted from the last packet, or from when RTP became due (answer, or the end of a
        hold), whichever is later; ``None`` before :meth:`watch` and while the negotiated
        direction says the far end sends nothing.
        """
        if self._expected_since is None or not self.expects_media:
            return None
        since = max(self._expected_since, self.stats.last_packet_at or self._expected_since)
        return time.monotonic() - since

    # -- the clock ----------------------------------------------------------------------------

    def start(self) -> None:
        """Join the clock (idempotent)."""
        if not self._ticking:
            self._ticking = True
            self._clock.add(self)

    @property
    def realtime(self) -> bool:
        """Whether this stream needs the 20 ms tick: it is sending something other than silence."""
        return bool(self._playback or self._dtmf_out) or time.monotonic() < self._realtime_until

    def _wake(self) -> None:
        self._realtime_until = time.monotonic() + REALTIME_LINGER
        self._clock.hurry()

    def receive(self, frames: int) -> None:
        """Read the socket; deliver ``frames`` frames to the listeners and bridged streams."""
        self._drain(frames)
        for step in range(frames):
            frame = self._jitter.pop(ahead=frames - 1 - step)
            if frame is None:
                frame = g711.silence()
                self.stats.frames_silent += 1
            self.stats.frames_delivered += 1
            for listener in self._listeners:
                if listener.queue.full():
                    listener.queue.get_nowait()
                    self.stats.listener_overflows += 1
                listener.queue.put_nowait(frame)
            for sink in self._sinks:
                sink.feed(frame)

    def transmit(self, frames: int) -> None:
        """Send ``frames`` packets."""
        for _ in range(frames):
            self._send_tick()

    def _send_tick(self) -> None:
        if self._dtmf_out and self.event_pt is not None:
            self._send_event_tick(self._dtmf_out[0])
        else:
            samples = self._next_outgoing()
            if self.direction.we_may_send:
                alaw = self.payload_type == PCMA
                payload = (
                    g711.silence_payload(alaw=alaw) if samples is None else g711.encode(samples, alaw=alaw)
                )
                self._send(self.payload_type, payload)
        self._timestamp = (self._timestamp + FRAME_SAMPLES) & 0xFFFFFFFF

    def _next_outgoing(self) -> Pcm | None:
        """The next frame to send; ``None`` for silence."""
        while self._playback:
            current = self._playback[0]
            if current.done.done():  # cancelled
                self._playback.popleft()
                continue
            chunk = current.samples[current.position : current.position + FRAME_SAMPLES]
            current.position += FRAME_SAMPLES
            if current.position >= len(current.samples):
                self._playback.popleft()
                current.done.set_result(True)
            if len(chunk) < FRAME_SAMPLES:
                chunk = np.concatenate((chunk, np.zeros(FRAME_SAMPLES - len(chunk), dtype=np.int16)))
            return chunk
        if self._bridged:
            queued, frame = self._bridged.popleft()
            self.stats.bridge_delays.append(time.monotonic() - queued)
            return frame
        return None

    def _send_event_tick(self, send: _DtmfSend) -> None:
        if send.timestamp is None:
            send.timestamp = self._timestamp
        send.tick += 1
        end = send.tick >= send.ticks
        payload = struct.pack(
            "!BBH", send.event, (0x80 if end else 0) | 10, min(0xFFFF, send.tick * FRAME_SAMPLES)
        )
        for _ in range(DTMF_END_PACKETS if end else 1):
            self._send(self.event_pt or 0, payload, timestamp=send.timestamp, marker=send.tick == 1)
        if end:
            self._dtmf_out.popleft()
            if not send.done.done():
                send.done.set_result(None)

    def _send(
        self, payload_type: int, payload: bytes, *, timestamp: int | None = None, marker: bool = False
    ) -> None:
        if self._socket is None or self.remote is None or self.remote[1] == 0:
            return
        packet = RtpPacket(
            payload_type,
            marker or self._first_packet,
            self._sequence,
            self._timestamp if timestamp is None else timestamp,
            self._ssrc,
            payload,
        )
        self._first_packet = False
        self._sequence = (self._sequence + 1) & 0xFFFF
        wire = packet.encode() if self.srtp is None else self.srtp.protect(packet.encode())
        try:
            self._socket.sendto(wire, self.remote)
        except (BlockingIOError, InterruptedError):
            return  # the kernel buffer is full: this packet is lost, like on the wire
        except OSError as err:
            _LOGGER.debug("RTP send failed: %s", err)
            return
        self.stats.packets_sent += 1

    # -- what the call uses -------------------------------------------------------------------

    async def frames(self) -> AsyncGenerator[Pcm]:
        """Every 20 ms frame heard from now on, until the stream closes."""
        if self._closed:
            return
        listener = _Listener()
        self._listeners.append(listener)
        try:
            while (frame := await listener.queue.get()) is not None:
                yield frame
        finally:
            if listener in self._listeners:
                self._listeners.remove(listener)

    async def play(self, samples: Pcm) -> bool:
        """Send ``samples`` in real time; ``True`` when all were sent, ``False`` if cut off."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._playback.append(_Playback(samples.astype(np.int16, copy=False), done))
        self._wake()
        return await done

    def cancel_playback(self) -> None:
        """Barge-in: stop everything queued for playback at once."""
        while self._playback:
            playback = self._playback.popleft()
            if not playback.done.done():
                playback.done.set_result(False)

    def connect(self, sink: MediaStream) -> None:
        """Send every frame received from now on into ``sink`` (one direction of a bridge)."""
        if sink not in self._sinks:
            self._sinks.append(sink)

    def disconnect(self, sink: MediaStream) -> None:
        """Stop :meth:`connect`."""
        if sink in self._sinks:
            self._sinks.remove(sink)

    def feed(self, frame: Pcm) -> None:
        """Bridged audio from another leg; only the newest 60 ms are kept."""
        self._bridged.append((time.monotonic(), frame))
        self._wake()

    async def send_event(self, digit: str, duration: float) -> None:
        """Send one RFC 4733 event of ``duration`` seconds."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ticks = max(2, round(duration / TICK))
        self._dtmf_out.append(_DtmfSend(DTMF_EVENTS.index(digit), ticks, done))
        self._wake()
        await done

    def seconds_since_last_packet(self) -> float | None:
        """How long no RTP arrived (``None`` before the first packet)."""
        if self.stats.last_packet_at is None:
            return None
        return time.monotonic() - self.stats.last_packet_at

    async def close(self) -> None:
        """Leave the clock, end listeners and playback, close the socket."""
        self._closed = True
        self._sinks.clear()
        if self._ticking:
            self._ticking = False
            self._clock.remove(self)
        self.cancel_playback()
        for send in self._dtmf_out:
            if not send.done.done():
                send.done.set_result(None)
        self._dtmf_out.clear()
        for listener in self._listeners:
            if listener.queue.full():
                listener.queue.get_nowait()
            listener.queue.put_nowait(None)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
