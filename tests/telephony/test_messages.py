"""SIP message, SDP and digest parsing: the tolerant edges, without any network."""

from __future__ import annotations

import pytest

from custom_components.hold_slayer.telephony import SipAuthError
from custom_components.hold_slayer.telephony.auth import authorization
from custom_components.hold_slayer.telephony.dialog import Dialog
from custom_components.hold_slayer.telephony.dtmf import dtmf_tone, frequencies
from custom_components.hold_slayer.telephony.sdp import Direction, SdpError, SessionVersion, build, parse
from custom_components.hold_slayer.telephony.sipmsg import (
    SipMessage,
    SipParseError,
    SipUri,
    canonical_name,
    params_of,
    response_to,
    split_commas,
    tag_of,
    uri_of,
)

BASE = (
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport\r\n"
    'From: "A, B" <sip:a@h>;tag=aa\r\nTo: <sip:b@h>\r\nCall-ID: cid\r\nCSeq: 7 INVITE\r\n'
)


def test_parse_request_with_compact_and_folded_headers() -> None:
    """Compact names, folding, list headers and a body cut at Content-Length."""
    raw = (
        "INVITE sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKone\r\n"
        "f: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\ni: x@y\r\nCSeq: 1 INVITE\r\n"
        "Subject: a\r\n  folded\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nRecord-Route: <sip:p3;lr>\r\n"
        "l: 4\r\n\r\nbodyEXTRA"
    )
    message = SipMessage.parse(raw.encode())
    assert message.method == "INVITE"
    assert message.call_id == "x@y"
    assert message.header("subject") == "a folded"
    assert message.header_values("record-route") == ["<sip:p1;lr>", "<sip:p2;lr>", "<sip:p3;lr>"]
    assert message.body == b"body"
    assert message.top_via_branch == "z9hG4bKone"


def test_parse_response_and_round_trip() -> None:
    """A response keeps its reason; encoding recomputes Content-Length."""
    message = SipMessage.parse(f"SIP/2.0 486 Busy Here\r\n{BASE}\r\n".encode())
    assert (message.status, message.reason, message.cseq, message.cseq_method) == (
        486,
        "Busy Here",
        7,
        "INVITE",
    )
    assert message.from_tag == "aa"
    assert message.to_tag is None
    again = SipMessage.parse(message.encode())
    assert again.headers[:5] == message.headers[:5]
    assert again.header("content-length") == "0"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HELLO\r\n\r\n",
        b"INVITE sip:x SIP/3.0\r\n\r\n",
        ("INVITE sip:b@h SIP/2.0\r\n" + BASE.replace("Call-ID: cid\r\n", "") + "\r\n").encode(),
        ("INVITE sip:b@h SIP/2.0\r\n" + BASE.replace("CSeq: 7 INVITE", "CSeq: seven") + "\r\n").encode(),
        ("INVITE sip:b@h SIP/2.0\r\n" + BASE + "Content-Length: abc\r\n\r\n").encode(),
        ("INVITE sip:b@h SIP/2.0\r\n" + BASE + "Content-Length: 10\r\n\r\nshort").encode(),
        ("INVITE sip:b@h SIP/2.0\r\n  folded first\r\n" + BASE + "\r\n").encode(),
        ("INVITE sip:b@h SIP/2.0\r\n" + BASE + "No colon here\r\n\r\n").encode(),
        b"INVITE sip:b@h SIP/2.0\r\nVia: \xff\r\n\r\n",
        b"INVITE sip:b@h SIP/2.0\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n",
    ],
    ids=[
        "empty",
        "no-version",
        "sip-3",
        "no-call-id",
        "bad-cseq",
        "bad-length",
        "short-body",
        "leading-fold",
        "no-colon",
        "not-utf8",
        "too-large",
    ],
)
def test_malformed_messages_raise_parse_error(raw: bytes) -> None:
    """Everything malformed is a SipParseError, never another exception."""
    with pytest.raises(SipParseError):
        SipMessage.parse(raw)


def test_lf_only_line_endings_are_accepted() -> None:
    """Some stacks send bare LF; we are liberal in what we accept."""
    raw = ("OPTIONS sip:b@h SIP/2.0\n" + BASE.replace("\r\n", "\n") + "\n").encode()
    assert SipMessage.parse(raw).method == "OPTIONS"


def test_header_helpers() -> None:
    """Names, lists with quoted commas, URIs, tags and parameters."""
    assert canonical_name("call-id") == "Call-ID"
    assert canonical_name("x-custom-thing") == "X-Custom-Thing"
    assert canonical_name("WWW-AUTHENTICATE") == "WWW-Authenticate"
    assert split_commas('"A, B" <sip:a@h>, <sip:c@h;x=1,2>') == ['"A, B" <sip:a@h>', "<sip:c@h;x=1,2>"]
    assert uri_of('"Bob" <sip:b@h:5070;transport=tcp>;tag=9') == "sip:b@h:5070;transport=tcp"
    assert uri_of("sip:b@h;tag=1") == "sip:b@h"
    assert tag_of("<sip:b@h;tag=uri-param>") is None
    assert tag_of("<sip:b@h>;tag=real") == "real"
    assert params_of("<sip:a@h>;expires=60;lr") == {"expires": "60", "lr": None}
    assert params_of("sip:a@h;expires=5") == {"expires": "5"}
    assert params_of("sip:a@h") == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sip:alice@Example.COM:5070;transport=tcp;lr",
            SipUri("sip", "alice", "example.com", 5070, {"transport": "tcp", "lr": None}),
        ),
        ("sips:[2001:db8::1]:5061", SipUri("sips", None, "2001:db8::1", 5061, {})),
        ("sip:+15555550100@pbx?subject=x", SipUri("sip", "+15555550100", "pbx", None, {})),
    ],
)
def test_uri_parsing(text: str, expected: SipUri) -> None:
    """SIP URIs as they appear in Contact, Route and Refer-To."""
    assert SipUri.parse(text) == expected


@pytest.mark.parametrize("text", ["tel:+1555", "sip:", "sip:a@h:99999", "sip:a@h:x"])
def test_bad_uris(text: str) -> None:
    """Unusable URIs are parse errors."""
    with pytest.raises(SipParseError):
        SipUri.parse(text)


def test_response_to_adds_our_tag_once() -> None:
    """Responses echo the request's Via/From/Call-ID/CSeq and add our To tag only if missing."""
    req = SipMessage.parse(f"BYE sip:b@h SIP/2.0\r\n{BASE}\r\n".encode())
    response = response_to(req, 200, to_tag="zz")
    assert response.start_line == "SIP/2.0 200 OK"
    assert response.to_tag == "zz"
    assert response.header("via") == req.header("via")
    tagged = SipMessage.parse(response.encode())
    assert response_to(tagged, 481, to_tag="other").to_tag == "zz"


def test_sdp_parse_variants() -> None:
    """Session-level connection and direction, hold by 0.0.0.0, events, codec choice."""
    offer = parse(
        b"v=0\r\no=x 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\na=sendonly\r\n"
        b"m=audio 4000 RTP/AVP 9 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\nm=video 5000 RTP/AVP 96\r\n"
    )
    assert (offer.address, offer.port, offer.codec, offer.event_pt) == ("10.0.0.9", 4000, 8, 101)
    assert offer.direction is Direction.SENDONLY
    assert offer.direction.answer() is Direction.RECVONLY
    old_hold = parse(b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n")
    assert old_hold.direction is Direction.SENDONLY
    assert parse(b"m=audio 1 RTP/AVP 18\r\nc=IN IP4 1.2.3.4\r\n").codec is None
    assert Direction.INACTIVE.answer() is Direction.INACTIVE
    assert not Direction.RECVONLY.we_may_send


@pytest.mark.parametrize(
    "body",
    [
        b"v=0\r\nc=IN IP4 1.2.3.4\r\n",
        b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n",
        b"\xff\xfe",
        b"m=audio x RTP/AVP 0\r\n",
    ],
    ids=["no-audio", "no-address", "not-utf8", "bad-m-line"],
)
def test_sdp_errors(body: bytes) -> None:
    """Unusable SDP raises SdpError."""
    with pytest.raises(SdpError):
        parse(body)


def test_sdp_build_round_trip() -> None:
    """Our offer parses back to what we meant; the version grows on changes."""
    origin = SessionVersion()
    body = build("192.0.2.5", 40002, direction=Direction.RECVONLY, origin=origin)
    media = parse(body)
    assert (media.address, media.port, media.payload_types, media.event_pt) == (
        "192.0.2.5",
        40002,
        (0, 8, 101),
        101,
    )
    assert media.direction is Direction.RECVONLY
    assert origin.bump() == 2
    assert b"telephone-event" not in build("192.0.2.5", 1, event_pt=None, origin=origin)


def test_digest_authorization() -> None:
    """A 401/407 is answered with our credentials; a challenge we cannot use is an auth error."""
    challenge = SipMessage.parse(
        f"SIP/2.0 407 Proxy Authentication Required\r\n{BASE}"
        'Proxy-Authenticate: Digest realm="pbx", nonce="n1", qop="auth", algorithm=MD5\r\n\r\n'.encode()
    )
    password = "correct-horse-battery"  # long: a random cnonce never contains it by chance
    name, value = authorization(
        challenge, method="INVITE", uri="sip:b@h", username="alice", password=password
    )
    assert name == "Proxy-Authorization"
    assert 'username="alice"' in value
    assert password not in value
    assert "qop=auth" in value
    unusable = SipMessage.parse(
        f"SIP/2.0 401 Unauthorized\r\n{BASE}"
        'WWW-Authenticate: Digest realm="x", nonce="n", algorithm=FOO\r\n\r\n'.encode()
    )
    with pytest.raises(SipAuthError):
        authorization(unusable, method="REGISTER", uri="sip:h", username="a", password="b")


def test_dialog_routing() -> None:
    """Loose routes become Route headers; a strict router becomes the Request-URI."""
    dialog = Dialog(
        "cid", "lt", "<sip:a@h>", "<sip:b@h>", remote_tag="rt", remote_target="sip:b@10.0.0.2:5070"
    )
    assert dialog.next_hop() == ("10.0.0.2", 5070)
    dialog.route_set = ["<sip:proxy.example;lr>"]
    bye = dialog.build("BYE", [("Via", "SIP/2.0/UDP x;branch=z9hG4bK1")])
    assert bye.uri == "sip:b@10.0.0.2:5070"
    assert bye.header("route") == "<sip:proxy.example;lr>"
    assert dialog.next_hop() == ("proxy.example", None)
    dialog.route_set = ["<sip:old.example>"]
    strict = dialog.build("BYE", [("Via", "SIP/2.0/UDP x;branch=z9hG4bK2")])
    assert strict.uri == "sip:old.example"
    assert strict.header_values("route") == ["<sip:b@10.0.0.2:5070>"]
    assert strict.cseq == 3
    dialog.route_set, dialog.remote_target = [], ""
    with pytest.raises(SipParseError):
        dialog.build("BYE", [])


def test_dtmf_tones() -> None:
    """Every key has its Q.23 pair; tones are bounded int16."""
    assert frequencies("#") == (941, 1477)
    assert frequencies("a") == (697, 1633)
    tone = dtmf_tone("0", 0.1)
    assert len(tone) == 800
    assert int(abs(tone).max()) < 32767
    with pytest.raises(ValueError, match="not a DTMF digit"):
        frequencies("x")
