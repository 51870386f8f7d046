"""What a call leg may ask of the phone that holds it: the UA core's services (RFC 3261 §8, §12).

:class:`~.phone.SipPhone` provides them; :class:`~.call.CallLeg` and its kinds use nothing
else of it, so the phone imports the call legs and they never import the phone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .dialog import Dialog
from .sipmsg import SipMessage
from .transaction_layer import TransactionLayer
from .transport import Address


class UaCore(Protocol):
    """Our identity on the line, sending inside and outside dialogs, and the transactions."""

    transactions: TransactionLayer
    local_ip: str
    secure_media: bool  # offer SRTP (SDES) in our INVITEs
    allow: str
    user_agent: str

    @property
    def contact(self) -> str:
        """Our Contact value (the public address where a registrar reported one)."""

    @property
    def from_value(self) -> str:
        """The From value (without tag) of our requests."""

    @property
    def media_address(self) -> str:
        """The address for SDP ``c=``/``o=``."""

    def via(self, branch: str) -> str:
        """A Via value for a new request."""

    def initial_route(self) -> list[tuple[str, str]]:
        """The pre-loaded route set (through the outbound proxy)."""

    def target_uri(self, target: str) -> str:
        """A number, extension or SIP URI as a Request-URI."""

    async def out_of_dialog_destination(self, uri: str) -> Address:
        """Where a request outside any dialog goes (a host name looked up)."""

    def authorization(
        self, challenge: SipMessage, method: str, uri: str, *, body: bytes = b""
    ) -> tuple[str, str]:
        """The credentials header answering a 401/407 (over ``body`` for auth-int)."""

    async def request_in_dialog(
        self,
        req: SipMessage,
        dialog: Dialog,
        *,
        timeout: float | None = None,
        on_send: Callable[[SipMessage], None] | None = None,
    ) -> SipMessage:
        """Send an in-dialog request and await its final response (answering one challenge)."""

    def send_in_dialog(self, req: SipMessage, dialog: Dialog) -> None:
        """Send a request that needs no transaction (the ACK for a 2xx)."""

    def respond(self, req: SipMessage, response: SipMessage) -> None:
        """Answer a request we received, through its server transaction."""

    def end_unwanted_session(self, response: SipMessage) -> None:
        """ACK and BYE a 2xx to an INVITE of ours that no call takes."""

    def forget(self, call_id: str) -> None:
        """A call ended: stop routing its dialog."""
