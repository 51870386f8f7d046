"""SDP offer/answer (RFC 3264, RFC 4566) for one audio stream: G.711 plus RFC 4733 events.

Plain RTP (``RTP/AVP``), or SRTP with its keys in ``a=crypto`` (``RTP/SAVP``, RFC 4568).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from .srtp import Crypto

PLAIN: Final = "RTP/AVP"
SECURE: Final = "RTP/SAVP"
PCMU: Final = 0
PCMA: Final = 8
DEFAULT_EVENT_PT: Final = 101
# What we can send and receive, best first.
SUPPORTED_CODECS: Final = {PCMU: "PCMU", PCMA: "PCMA"}


class SdpError(ValueError):
    """The SDP cannot be used (no audio, no common codec, malformed)."""


class Direction(StrEnum):
    """Media direction attribute (RFC 3264 §5.1)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    def answer(self) -> Direction:
        """Our direction in an answer to an offer with this direction."""
        return {
            Direction.SENDONLY: Direction.RECVONLY,
            Direction.RECVONLY: Direction.SENDONLY,
        }.get(self, self)

    @property
    def we_may_send(self) -> bool:
        """Whether we may send media when this is *our* direction."""
        return self in (Direction.SENDRECV, Direction.SENDONLY)


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """What one side says about its audio stream."""

    address: str
    port: int
    payload_types: tuple[int, ...]
    event_pt: int | None = None
    direction: Direction = Direction.SENDRECV
    rtpmap: dict[int, str] = field(default_factory=dict)
    profile: str = PLAIN  # RTP/AVP, or RTP/SAVP: SRTP (RFC 4568)
    crypto: tuple[Crypto, ...] = ()  # the a=crypto lines we could use, in the side's order

    @property
    def secure(self) -> bool:
        """Whether the stream is SRTP (``RTP/SAVP`` or ``RTP/SAVPF``)."""
        return self.profile.startswith(SECURE)

    @property
    def codec(self) -> int | None:
        """The first payload type we support, in the order the side listed them."""
        return next((pt for pt in self.payload_types if pt in SUPPORTED_CODECS), None)


_M_LINE = re.compile(r"^audio (\d+)(?:/\d+)? (RTP/S?AVPF?) ([\d ]+)$")


@dataclass(slots=True)
class _Stream:
    port: int
    pts: tuple[int, ...]
    profile: str = PLAIN
    address: str | None = None
    direction: Direction | None = None
    rtpmap: dict[int, str] = field(default_factory=dict)
    crypto: list[Crypto] = field(default_factory=list)


def parse(body: bytes) -> MediaDescription:
    """The first audio stream of an SDP body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SdpError("SDP is not UTF-8") from err
    session_address: str | None = None
    session_direction: Direction | None = None
    stream: _Stream | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            if stream is not None:
                break  # only the first audio stream matters
            if match := _M_LINE.match(value):
                pts = tuple(int(pt) for pt in match.group(3).split())
                stream = _Stream(int(match.group(1)), pts, match.group(2))
        elif kind == "c":
            parts = value.split()
            if len(parts) == 3 and parts[0] == "IN":
                address = parts[2].split("/", 1)[0]
                if stream is None:
                    session_address = address
                else:
                    stream.address = address
        elif kind == "a" and stream is not None:
            _stream_attribute(stream, value)
        elif kind == "a" and value in _DIRECTIONS:
            session_direction = Direction(value)
    if stream is None:
        raise SdpError("no audio stream")
    found = stream.address or session_address
    if found is None:
        raise SdpError("no connection address")
    connection: str = found
    if not 0 <= stream.port < 65536:
        raise SdpError("bad media port")
    event_pt = next(
        (
            pt
            for pt, encoding in stream.rtpmap.items()
            if encoding.lower().startswith("telephone-event/8000") and pt in stream.pts
        ),
        None,
    )
    direction = stream.direction or session_direction or Direction.SENDRECV
    if connection in ("0.0.0.0", "::") and direction is Direction.SENDRECV:
        direction = Direction.SENDONLY  # RFC 2543-style hold
    return MediaDescription(
        connection,
        stream.port,
        stream.pts,
        event_pt,
        direction,
        stream.rtpmap,
        stream.profile,
        tuple(stream.crypto),
    )


_DIRECTIONS: Final = frozenset(d.value for d in Direction)


def _stream_attribute(stream: _Stream, value: str) -> None:
    """An ``a=`` line of the audio stream: direction, crypto or rtpmap (others are not ours)."""
    name, _, arg = value.partition(":")
    if name in _DIRECTIONS:
        stream.direction = Direction(name)
    elif name == "crypto" and (crypto := Crypto.parse(arg)) is not None:
        stream.crypto.append(crypto)
    elif name == "rtpmap":
        pt_text, _, encoding = arg.partition(" ")
        if pt_text.isdigit():
            stream.rtpmap[int(pt_text)] = encoding.strip()


@dataclass(slots=True)
class SessionVersion:
    """``o=`` line state: the version must grow with every changed offer or answer."""

    session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    version: int = 1

    def bump(self) -> int:
        """Next version number."""
        self.version += 1
        return self.version


def build(
    address: str,
    port: int,
    *,
    codecs: tuple[int, ...] = (PCMU, PCMA),
    event_pt: int | None = DEFAULT_EVENT_PT,
    direction: Direction = Direction.SENDRECV,
    origin: SessionVersion,
    crypto: Crypto | None = None,
) -> bytes:
    """An SDP body offering (or answering with) ``codecs`` and telephone-events; SRTP with ``crypto``."""
    pts = [*codecs, *([event_pt] if event_pt is not None else [])]
    lines = [
        "v=0",
        f"o=hold-slayer {origin.session_id} {origin.version} IN IP4 {address}",
        "s=Hold Slayer",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} {SECURE if crypto else PLAIN} {' '.join(str(pt) for pt in pts)}",
    ]
    lines += [f"a=rtpmap:{pt} {SUPPORTED_CODECS[pt]}/8000" for pt in codecs]
    if event_pt is not None:
        lines += [f"a=rtpmap:{event_pt} telephone-event/8000", f"a=fmtp:{event_pt} 0-16"]
    lines += ["a=ptime:20", f"a={direction.value}"]
    if crypto is not None:
        lines.append(f"a=crypto:{crypto.attribute()}")
    return ("\r\n".join(lines) + "\r\n").encode()
