"""A SIP dialog (RFC 3261 §12): identifiers, route set, CSeq, and request validation."""

from __future__ import annotations

from dataclasses import dataclass, field

from .sipmsg import SipMessage, SipParseError, SipUri, request, uri_of


@dataclass(slots=True)
class Dialog:
    """One dialog as seen by us (the UAC that sent the INVITE)."""

    call_id: str
    local_tag: str
    local_uri: str  # From value without tag
    remote_uri: str  # To value without tag
    remote_tag: str | None = None
    remote_target: str = ""
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    remote_cseq: int | None = None

    def confirm(self, response: SipMessage) -> None:
        """A 2xx to our INVITE (or a 1xx with a tag) fixes the remote tag, target and routes."""
        self.remote_tag = response.to_tag
        if contact := response.header("contact"):
            self.remote_target = uri_of(contact)
        # The UAC uses the Record-Route values in reverse order (RFC 3261 §12.1.2).
        self.route_set = list(reversed(response.header_values("record-route")))

    def accepts(self, req: SipMessage) -> bool:
        """Whether a request belongs to this dialog: Call-ID and both tags must match.

        Our tag is random, so a forged BYE or re-INVITE needs to have seen our signalling.
        """
        return (
            self.remote_tag is not None
            and req.call_id == self.call_id
            and req.from_tag == self.remote_tag
            and req.to_tag == self.local_tag
        )

    def next_hop(self) -> tuple[str, int | None]:
        """Where an in-dialog request goes: the first route, else the remote target."""
        target = SipUri.parse(uri_of(self.route_set[0]) if self.route_set else self.remote_target)
        return target.params.get("maddr") or target.host, target.port

    def build(
        self, method: str, headers: list[tuple[str, str]], body: bytes = b"", *, cseq: int | None = None
    ) -> SipMessage:
        """An in-dialog request with a fresh CSeq (RFC 3261 §12.2.1.1, loose routing)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        uri = self.remote_target
        routes = list(self.route_set)
        if routes:
            first = SipUri.parse(uri_of(routes[0]))
            if not first.loose_route:  # strict router: it becomes the Request-URI
                uri = uri_of(routes.pop(0))
                routes.append(f"<{self.remote_target}>")
        own = [
            ("From", f"{self.local_uri};tag={self.local_tag}"),
            ("To", f"{self.remote_uri};tag={self.remote_tag}" if self.remote_tag else self.remote_uri),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Max-Forwards", "70"),
        ]
        own += [("Route", route) for route in routes]
        if not uri:
            raise SipParseError("dialog has no remote target")
        return request(method, uri, headers[:1] + own + headers[1:], body)
