"""SIP messages (RFC 3261 §7): a tolerant parser and a builder.

Parsing never raises anything but :class:`SipParseError`; the transport drops what does not
parse. Header order and raw values are kept, because responses must echo ``Via`` verbatim.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Final

MAX_MESSAGE_BYTES: Final = 65535
SIP_VERSION: Final = "SIP/2.0"
BRANCH_MAGIC: Final = "z9hG4bK"

# RFC 3261 §7.3.3 compact forms.
_COMPACT: Final = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "r": "refer-to",
    "b": "referred-by",
    "o": "event",
    "u": "allow-events",
    "x": "session-expires",
}
_CANONICAL: Final = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
}
_REQUIRED: Final = ("via", "from", "to", "call-id", "cseq")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d)(?: (.*))?$")
_REQUEST_LINE = re.compile(r"^([A-Za-z]+) (\S+) SIP/2\.0$")
_TAG = re.compile(r";\s*tag=([^;,\s>]+)", re.IGNORECASE)
_URI_IN_BRACKETS = re.compile(r"<([^>]*)>")
_PARAM = re.compile(r";\s*([A-Za-z0-9_.!~*'-]+)(?:=([^;,\s]*))?")

REASONS: Final = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    415: "Unsupported Media Type",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    480: "Temporarily Unavailable",
    488: "Not Acceptable Here",
    422: "Session Interval Too Small",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    603: "Decline",
}


class SipParseError(ValueError):
    """The bytes are not a SIP message we can act on."""


def canonical_name(name: str) -> str:
    """``"call-id"`` / ``"i"`` → ``"Call-ID"``; other names in Title-Case."""
    lower = name.strip().lower()
    lower = _COMPACT.get(lower, lower)
    return _CANONICAL.get(lower) or "-".join(part.capitalize() for part in lower.split("-"))


def new_tag() -> str:
    """A random From/To tag (RFC 3261 §19.3: at least 32 bits of randomness)."""
    return secrets.token_hex(8)


def new_branch() -> str:
    """A random, RFC 3261-compliant Via branch."""
    return BRANCH_MAGIC + secrets.token_hex(12)


def new_call_id(host: str) -> str:
    """A globally unique Call-ID (never repeats across restarts)."""
    return f"{secrets.token_hex(16)}@{host}"


def split_commas(value: str) -> list[str]:
    """Split a header value on commas outside quotes and angle brackets."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for index, char in enumerate(value):
        if char == '"' and (index == 0 or value[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and char == ",":
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def uri_of(value: str) -> str:
    """The URI inside a name-addr (``"Bob" <sip:b@h>;tag=1`` → ``sip:b@h``) or an addr-spec."""
    if match := _URI_IN_BRACKETS.search(value):
        return match.group(1).strip()
    return value.split(";", 1)[0].strip()


def tag_of(value: str) -> str | None:
    """The ``tag`` parameter of a From/To value."""
    # Only parameters after the URI count: strip a bracketed URI first.
    tail = value[value.rfind(">") + 1 :] if ">" in value else value
    match = _TAG.search(tail)
    return match.group(1) if match else None


def params_of(value: str) -> dict[str, str | None]:
    """Header parameters after the URI (``;expires=60;lr``), lower-case names."""
    start = value.rfind(">") + 1 if ">" in value else value.find(";")
    tail = value[start:] if start >= 0 else ""
    return {name.lower(): (param or None) for name, param in _PARAM.findall(tail)}


@dataclass(frozen=True, slots=True)
class SipUri:
    """The parts of a ``sip:``/``sips:`` URI we route on."""

    scheme: str
    user: str | None
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse ``sip:user@host:port;params`` (headers after ``?`` are ignored)."""
        text = text.strip()
        scheme, sep, rest = text.partition(":")
        if not sep or scheme.lower() not in ("sip", "sips"):
            raise SipParseError(f"not a SIP URI: {text!r}")
        rest = rest.split("?", 1)[0]
        hostpart, _, param_text = rest.partition(";")
        user: str | None = None
        if "@" in hostpart:
            user, _, hostpart = hostpart.rpartition("@")
        host, port = hostpart, None
        if hostpart.startswith("["):
            host, _, after = hostpart[1:].partition("]")
            port_text = after[1:] if after.startswith(":") else ""
        else:
            host, _, port_text = hostpart.partition(":")
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise SipParseError(f"bad port in {text!r}")
            port = int(port_text)
        if not host:
            raise SipParseError(f"no host in {text!r}")
        params = {
            name.lower(): (value or None) for name, value in _PARAM.findall(";" + param_text) if param_text
        }
        return cls(scheme.lower(), user or None, host.lower(), port, params)

    @property
    def loose_route(self) -> bool:
        """Whether this Route entry is a loose router (``;lr``)."""
        return "lr" in self.params


@dataclass(slots=True)
class SipMessage:
    """A request or a response with its headers in arrival order."""

    start_line: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    source: tuple[str, int] | None = None  # where a received message came from

    # -- parsing --------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes) -> SipMessage:
        """Parse one complete message; raise :class:`SipParseError` on anything malformed."""
        if len(data) > MAX_MESSAGE_BYTES:
            raise SipParseError("message too large")
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = data.partition(b"\n\n")
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SipParseError("header block is not UTF-8") from err
        lines = text.replace("\r\n", "\n").split("\n")
        start_line = lines[0].strip()
        message = cls(start_line=start_line, headers=[])
        if status := _STATUS_LINE.match(start_line):
            message.status = int(status.group(1))
            message.reason = status.group(2) or ""
        elif request := _REQUEST_LINE.match(start_line):
            message.method = request.group(1).upper()
            message.uri = request.group(2)
        else:
            raise SipParseError(f"bad start line {start_line[:80]!r}")
        for line in lines[1:]:
            if not line:
                continue
            if line[0] in " \t":  # folded continuation (RFC 3261 §7.3.1)
                if not message.headers:
                    raise SipParseError("continuation before the first header")
                name, value = message.headers[-1]
                message.headers[-1] = (name, f"{value} {line.strip()}")
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip() or " " in name.strip():
                raise SipParseError(f"bad header line {line[:80]!r}")
            message.headers.append((canonical_name(name), value.strip()))
        for required in _REQUIRED:
            if not message.header(required):
                raise SipParseError(f"missing {canonical_name(required)}")
        if len(message.cseq_parts()) != 2:
            raise SipParseError("bad CSeq")
        length = message.header("content-length")
        if length is not None:
            if not length.isdigit():
                raise SipParseError("bad Content-Length")
            if int(length) > len(body):
                raise SipParseError("body shorter than Content-Length")
            body = body[: int(length)]
        message.body = body
        return message

    # -- header access --------------------------------------------------------------------------

    def header(self, name: str) -> str | None:
        """The first value of a header (any spelling or compact form)."""
        wanted = canonical_name(name)
        return next((value for key, value in self.headers if key == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, comma-separated lists split (Via, Route, Record-Route …)."""
        wanted = canonical_name(name)
        values: list[str] = []
        for key, value in self.headers:
            if key == wanted:
                values.extend(split_commas(value) if key not in _NO_COMMA_SPLIT else [value])
        return values

    @property
    def call_id(self) -> str:
        """The Call-ID."""
        return self.header("call-id") or ""

    def cseq_parts(self) -> list[str]:
        """``["42", "INVITE"]``."""
        return (self.header("cseq") or "").split()

    @property
    def cseq(self) -> int:
        """The CSeq number (0 when malformed)."""
        number = self.cseq_parts()[0] if self.cseq_parts() else ""
        return int(number) if number.isdigit() and len(number) < 11 else 0

    @property
    def cseq_method(self) -> str:
        """The CSeq method."""
        parts = self.cseq_parts()
        return parts[1].upper() if len(parts) == 2 else ""

    @property
    def from_tag(self) -> str | None:
        """The From tag."""
        return tag_of(self.header("from") or "")

    @property
    def to_tag(self) -> str | None:
        """The To tag."""
        return tag_of(self.header("to") or "")

    @property
    def top_via_branch(self) -> str | None:
        """The branch parameter of the topmost Via."""
        vias = self.header_values("via")
        if not vias:
            return None
        match = re.search(r";\s*branch=([^;,\s]+)", vias[0], re.IGNORECASE)
        return match.group(1) if match else None

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case, without parameters."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def is_request(self) -> bool:
        """Whether this is a request (else a response)."""
        return self.method is not None

    # -- building -------------------------------------------------------------------------------

    def encode(self) -> bytes:
        """Serialise with a correct Content-Length."""
        lines = [self.start_line]
        lines += [f"{name}: {value}" for name, value in self.headers if name != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


# Headers whose values may contain commas that are not list separators.
_NO_COMMA_SPLIT: Final = frozenset(
    {
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Authorization",
        "Proxy-Authorization",
        "Date",
        "User-Agent",
        "Server",
        "Subject",
        "Reason",
        "Warning",
    }
)


def request(method: str, uri: str, headers: list[tuple[str, str]], body: bytes = b"") -> SipMessage:
    """Build a request."""
    return SipMessage(f"{method} {uri} {SIP_VERSION}", list(headers), body, method=method, uri=uri)


def response_to(
    req: SipMessage,
    status: int,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    reason: str | None = None,
) -> SipMessage:
    """A response echoing the request's Via, From, To (plus our tag), Call-ID and CSeq."""
    copied = [(name, value) for name, value in req.headers if name in ("Via", "From", "Call-ID", "CSeq")]
    to_value = req.header("to") or ""
    if to_tag and tag_of(to_value) is None:
        to_value = f"{to_value};tag={to_tag}"
    copied.insert(next(i for i, (n, _) in enumerate(copied) if n == "Call-ID"), ("To", to_value))
    text = reason or REASONS.get(status, "Unknown")
    return SipMessage(
        f"{SIP_VERSION} {status} {text}", copied + list(headers or []), body, status=status, reason=text
    )
