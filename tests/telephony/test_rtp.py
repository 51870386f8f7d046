"""RTP packets, the jitter buffer and two media streams talking over loopback."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import numpy as np
import pytest

from custom_components.hold_slayer.telephony.g711 import (
    ALAW_SILENCE,
    FRAME_SAMPLES,
    ULAW_SILENCE,
    Pcm,
    decode,
    encode,
)
from custom_components.hold_slayer.telephony.rtp import (
    REALTIME_LINGER,
    JitterBuffer,
    MediaClock,
    MediaStats,
    MediaStream,
    RtpPacket,
)
from custom_components.hold_slayer.telephony.sdp import PCMA, PCMU, Direction
from harness.signals import best_alignment, noise

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _packet(sequence: int, ssrc: int = 1, value: int = 100) -> tuple[RtpPacket, Pcm]:
    samples = np.full(FRAME_SAMPLES, value, dtype=np.int16)
    return RtpPacket(0, False, sequence & 0xFFFF, sequence * 160, ssrc, encode(samples)), samples


def test_packet_parsing() -> None:
    """CSRCs, header extensions and padding are skipped; non-RTP is refused."""
    base = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 0x01, 0x80 | 8, 7, 1600, 99)
    csrc = struct.pack("!I", 5)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    data = base + csrc + extension + b"abc" + b"\x00\x02"
    packet = RtpPacket.parse(data)
    assert packet is not None
    assert (packet.payload_type, packet.marker, packet.sequence, packet.ssrc) == (8, True, 7, 99)
    assert packet.payload == b"abc"
    assert RtpPacket.parse(b"\x00" * 20) is None  # version 0
    assert RtpPacket.parse(b"\x80\x00") is None
    assert RtpPacket.parse(base[:12]) is None  # claims an extension it does not have
    assert RtpPacket.parse(RtpPacket(0, False, 1, 2, 3, b"xy").encode()) == RtpPacket(
        0, False, 1, 2, 3, b"xy"
    )


def test_g711_tables() -> None:
    """Silence codes decode to (almost) zero; both laws reach ~37 dB SNR at speech levels."""
    assert not decode(ULAW_SILENCE).any()
    assert np.abs(decode(ALAW_SILENCE, alaw=True)).max() <= 8  # A-law has no zero code
    signal = noise(1.0, seed=3)
    for alaw in (False, True):
        error = signal.astype(np.float64) - decode(encode(signal, alaw=alaw), alaw=alaw)
        snr = 10 * np.log10(np.sum(signal.astype(np.float64) ** 2) / np.sum(error**2))
        assert snr > 35


def test_jitter_buffer_reorders_and_conceals() -> None:
    """Out-of-order packets play in order; a missing one becomes silence and is counted."""
    stats = MediaStats()
    buffer = JitterBuffer(stats, depth=2)
    assert buffer.pop() is None
    for sequence in (10, 12, 11, 14):
        buffer.push(*_packet(sequence, value=sequence * 10))
    out = [buffer.pop() for _ in range(5)]
    values = [int(frame[0]) if frame is not None else None for frame in out]
    assert values[:3] == [100, 110, 120]
    assert values[3] == 0  # 13 never came
    assert values[4] is not None
    assert stats.packets_lost == 1
    buffer.push(*_packet(13))  # arrived after its turn was concealed
    assert stats.packets_late == 1


def test_jitter_buffer_waits_through_silence_suppression() -> None:
    """No packets for a while (far end DTX) is an underrun, not loss; playout re-primes."""
    stats = MediaStats()
    buffer = JitterBuffer(stats, depth=2)
    for sequence in (1, 2):
        buffer.push(*_packet(sequence))
    assert buffer.pop() is not None
    assert buffer.pop() is not None
    assert buffer.pop() is None
    assert buffer.pop() is None
    buffer.push(*_packet(3))
    assert buffer.pop() is None  # cushion rebuilding
    buffer.push(*_packet(4))
    assert buffer.pop() is not None
    assert stats.packets_lost == 0


def test_jitter_buffer_resyncs_and_bounds_latency() -> None:
    """Big sequence jumps and new SSRCs restart; a backlog is trimmed to the maximum."""
    stats = MediaStats()
    buffer = JitterBuffer(stats, depth=2, maximum=4)
    buffer.push(*_packet(100))
    buffer.push(*_packet(5000))
    assert stats.resyncs == 1
    buffer.push(*_packet(7, ssrc=2))  # a new source starts over without counting
    for sequence in range(8, 20):
        buffer.push(*_packet(sequence, ssrc=2))
    assert stats.packets_dropped_overflow == 9
    assert buffer.pop() is not None
    buffer.push(*_packet(65535, ssrc=3))
    buffer.push(*_packet(0, ssrc=3))  # sequence wraps
    assert buffer.pop() is not None
    assert buffer.pop() is not None


def test_two_frame_ticks_start_one_packet_deeper() -> None:
    """A 40 ms tick takes two packets at once, so playout waits for three and keeps one spare."""
    stats = MediaStats()
    buffer = JitterBuffer(stats, depth=2)
    for sequence in (1, 2):
        buffer.push(*_packet(sequence))
    assert buffer.pop(ahead=1) is None
    buffer.push(*_packet(3))
    for sequence in range(4, 40, 2):  # two arrive per tick, a little early or late
        assert buffer.pop(ahead=1) is not None
        assert buffer.pop() is not None
        buffer.push(*_packet(sequence))
        buffer.push(*_packet(sequence + 1))
    assert stats.packets_lost == 0
    assert stats.packets_dropped_overflow == 0


def test_event_packets_are_not_concealed_as_lost_audio() -> None:
    """RFC 4733 packets take sequence numbers in the same stream; skipping them adds no delay."""
    stats = MediaStats()
    buffer = JitterBuffer(stats, depth=2)
    for sequence in (1, 2):
        buffer.push(*_packet(sequence, value=10))
    assert buffer.pop() is not None
    event, _ = _packet(0)
    for sequence in range(3, 9):  # a digit: events instead of audio
        buffer.skip(RtpPacket(101, False, sequence, 480, 1, event.payload[:4]))
    assert buffer.pop() is not None  # sequence 2
    assert buffer.pop() is None  # nothing more to play: an underrun, not loss
    for sequence in (9, 10):
        buffer.push(*_packet(sequence, value=90))
    resumed = buffer.pop()
    assert resumed is not None
    assert int(resumed[0]) == 90  # straight to the audio after the digit
    assert stats.packets_lost == 0
    buffer.skip(RtpPacket(101, False, 11, 480, 7, b"\x01\x00\x00\x00"))  # another source: ignored


async def test_clock_relaxes_while_only_listening() -> None:
    """Listening only: 40 ms ticks; playback brings 20 ms back, until it has been over a while.

    Whatever the pace, every frame heard is matched by exactly one packet sent.
    """
    clock = MediaClock()
    first, second = MediaStream("127.0.0.1", clock=clock), MediaStream("127.0.0.1", clock=clock)
    await first.open(range(42500, 42600))
    await second.open(range(42600, 42700))
    first.set_remote("127.0.0.1", second.local_port or 0, PCMU, 101, Direction.SENDRECV)
    second.set_remote("127.0.0.1", first.local_port or 0, PCMU, 101, Direction.SENDRECV)
    first.start()
    second.start()
    try:
        await _heard(second, 20)
        assert clock.interval == pytest.approx(0.04)
        spoken = noise(0.6, seed=9)
        listening = asyncio.create_task(_heard(second, 60))
        playing = asyncio.create_task(first.play(spoken))
        await asyncio.sleep(0.1)
        assert clock.interval == pytest.approx(0.02)
        assert await playing
        assert best_alignment(await listening, spoken)[0] > 0.99
        await asyncio.sleep(REALTIME_LINGER + 0.2)
        assert clock.interval == pytest.approx(0.04)
        assert second.stats.frames_delivered == second.stats.packets_sent
    finally:
        await first.close()
        await second.close()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[MediaStream, MediaStream]]:
    """Two streams on loopback, negotiated with each other."""
    digits: list[str] = []
    first, second = MediaStream("127.0.0.1"), MediaStream("127.0.0.1", on_dtmf=digits.append)
    await first.open(range(42000, 42100))
    await second.open(range(42100, 42200))
    assert first.local_port
    assert second.local_port
    first.set_remote("127.0.0.1", second.local_port, PCMA, 101, Direction.SENDRECV)
    second.set_remote("127.0.0.1", first.local_port, PCMA, 101, Direction.SENDRECV)
    first.start()
    second.start()
    yield first, second
    await first.close()
    await second.close()


async def _heard(stream: MediaStream, frames: int) -> Pcm:
    got = []
    async for frame in stream.frames():
        got.append(frame)
        if len(got) == frames:
            break
    return np.concatenate(got)


async def test_streams_carry_audio_and_events(pair: tuple[MediaStream, MediaStream]) -> None:
    """A-law audio arrives intact; RFC 4733 digits arrive once each."""
    first, second = pair
    spoken = noise(1.0, seed=8)
    listening = asyncio.create_task(_heard(second, 100))
    assert await first.play(spoken)
    heard = await listening
    assert best_alignment(heard, spoken)[0] > 0.99
    await first.send_event("7", 0.1)
    await first.send_event("#", 0.1)
    await asyncio.sleep(0.1)
    assert second.stats.dtmf_received == "7#"


async def test_feed_and_hold(pair: tuple[MediaStream, MediaStream]) -> None:
    """Bridged frames are sent; on hold (recvonly) nothing is sent and nothing is played."""
    first, second = pair
    first.feed(np.full(FRAME_SAMPLES, 5000, dtype=np.int16))
    heard = await _heard(second, 5)
    assert np.abs(heard).max() > 4000
    first.set_remote("127.0.0.1", second.local_port or 0, PCMA, 101, Direction.RECVONLY)
    await asyncio.sleep(0.1)
    sent = first.stats.packets_sent
    await asyncio.sleep(0.2)
    assert first.stats.packets_sent == sent
    second.set_remote("127.0.0.1", first.local_port or 0, PCMA, 101, Direction.SENDONLY)
    before = second.stats.packets_received
    await asyncio.sleep(0.2)
    assert second.stats.packets_received == before


async def test_only_the_peer_is_heard(pair: tuple[MediaStream, MediaStream]) -> None:
    """RTP from another host or a second port of the peer's host is dropped; the first port latches."""
    first, second = pair
    assert second.local_port
    stranger = MediaStream("127.0.0.1")
    await stranger.open(range(42200, 42300))
    stranger.set_remote("127.0.0.1", second.local_port, PCMU, None, Direction.SENDRECV)
    stranger.start()
    await asyncio.sleep(0.2)
    await stranger.close()
    assert second.stats.packets_dropped_source > 0
    assert second.remote == ("127.0.0.1", first.local_port)


async def test_slow_listener_loses_oldest_frames_not_time(pair: tuple[MediaStream, MediaStream]) -> None:
    """A listener that stops reading never gets a stale backlog: the oldest frames are dropped."""
    _, second = pair
    frames = second.frames()
    first_frame = await anext(frames)
    assert first_frame.shape == (FRAME_SAMPLES,)
    await asyncio.sleep(1.3)  # 65 ticks with a 50-frame queue
    assert second.stats.listener_overflows > 0
    await frames.aclose()


async def test_close_ends_listeners_and_playback() -> None:
    """Closing resolves playback as interrupted and ends every listener."""
    stream = MediaStream("127.0.0.1")
    await stream.open(range(42300, 42310))
    stream.set_remote("127.0.0.1", 9, PCMU, 101, Direction.SENDRECV)
    stream.start()
    playing = asyncio.create_task(stream.play(np.zeros(8000, dtype=np.int16)))
    event = asyncio.create_task(stream.send_event("1", 5.0))
    listening = asyncio.create_task(_collect_all(stream))
    await asyncio.sleep(0.1)
    await stream.close()
    assert await playing is False
    await event
    assert isinstance(await listening, int)
    assert stream.seconds_since_last_packet() is None


async def _collect_all(stream: MediaStream) -> int:
    return len([frame async for frame in stream.frames()])


async def test_no_free_port() -> None:
    """A range with no free port is an OSError naming the range."""
    holder = MediaStream("127.0.0.1")
    port = await holder.open(range(42400, 42401))
    with pytest.raises(OSError, match="no free RTP port"):
        await MediaStream("127.0.0.1").open(range(port, port + 1))
    await holder.close()
