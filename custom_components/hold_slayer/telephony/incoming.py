"""A call placed *to* us (the UAS role): ring, early media, answer or reject, CANCEL, no answer.

The phone creates an :class:`IncomingCall` for each new INVITE and hands it to its
``on_incoming`` handler. Once answered it is a :class:`~.call.CallLeg` like an outbound call:
frames, playback, DTMF, transfer and hang-up are the same code.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Final

from . import sdp
from .call import RING_TIMEOUT, CallEnd, CallFailedError, CallLeg, CallState, EndCause
from .dialog import Dialog
from .rtp import MediaStream
from .sdp import MediaDescription
from .session_timer import uas_answer, we_refresh
from .sipmsg import SipMessage, SipUri, new_tag, response_to, uri_of
from .transaction import TIMER_H, retransmit
from .ua_core import UaCore

_LOGGER = logging.getLogger(__name__)

ACK_TIMEOUT: Final = TIMER_H  # RFC 3261 §13.3.1.4: no ACK for our 2xx
_TAG_PARAM = re.compile(r";\s*tag=[^;,\s>]*", re.IGNORECASE)


def without_tag(value: str) -> str:
    """A From/To value without its tag parameter."""
    return _TAG_PARAM.sub("", value).strip()


class IncomingCall(CallLeg):
    """A call someone placed to us. The phone's ``on_incoming`` handler decides what to do with it.

    Until :meth:`answer` or :meth:`reject`, the caller waits; after ``ring_timeout`` seconds
    unanswered the call is refused with 480 (cause ``no_answer``). ``None`` rings until the
    caller gives up (CANCEL, cause ``remote_hangup`` with status 487).
    """

    ring_timeout: float | None = RING_TIMEOUT
    ack_timeout: float = ACK_TIMEOUT

    def __init__(
        self, phone: UaCore, invite: SipMessage, media: MediaStream, offer: MediaDescription
    ) -> None:
        dialog = Dialog(
            call_id=invite.call_id,
            local_tag=new_tag(),
            local_uri=without_tag(invite.header("to") or ""),
            remote_uri=without_tag(invite.header("from") or ""),
            remote_tag=invite.from_tag or "",
            remote_target=uri_of(invite.header("contact") or invite.header("from") or ""),
            # The UAS keeps the Record-Route values in the order received (RFC 3261 §12.1.1).
            route_set=invite.header_values("record-route"),
            local_cseq=0,
            remote_cseq=invite.cseq,
        )
        super().__init__(phone, media, dialog, CallState.INCOMING)
        self.invite = invite
        self.offer = offer
        self._final: SipMessage | None = None
        self._session_answer = uas_answer(invite)  # RFC 4028: what our 2xx says, if asked
        # Done at the ACK for our 2xx, or when the call ends first.
        self._acked: asyncio.Future[None] = self._loop.create_future()
        self.ended.add_done_callback(self._stop_waiting_for_ack)
        codec = offer.codec
        assert codec is not None  # the phone refuses offers without a common codec (488)
        self._use_keys(offer, answering=True)  # the phone refused SRTP offers without a usable key
        media.set_remote(offer.address, offer.port, codec, offer.event_pt, offer.direction.answer())

    def _stop_waiting_for_ack(self, _ended: object) -> None:
        if not self._acked.done():
            self._acked.set_result(None)

    # -- who is calling whom --------------------------------------------------------------------

    @property
    def request_uri(self) -> str:
        """The Request-URI of the INVITE (what the caller dialled)."""
        return self.invite.uri or ""

    @property
    def called_user(self) -> str:
        """The user part of the Request-URI: the number or extension dialled."""
        return SipUri.parse(self.request_uri).user or ""

    @property
    def caller(self) -> str:
        """The caller's URI (From)."""
        return uri_of(self.dialog.remote_uri)

    # -- the phone's hooks ----------------------------------------------------------------------

    def start(self) -> None:
        """100 Trying at once (from :class:`SipPhone`, before its handler sees the call)."""
        self._send(response_to(self.invite, 100))

    def start_ring_timer(self) -> None:
        """After the handler ran, so that it could set ``ring_timeout`` for this call."""
        if self.ring_timeout is not None and self._final is None:
            self._spawn(self._ring_timer(self.ring_timeout), "hold_slayer incoming ring timer")

    async def _ring_timer(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self._final is None:
            self._refuse(480, CallEnd(EndCause.NO_ANSWER, 480, "not answered"))

    def on_cancel(self, cancel: SipMessage) -> None:
        """CANCEL: 200 for the CANCEL; 487 for the INVITE unless it already had a final answer."""
        self._phone.respond(cancel, response_to(cancel, 200))
        if self._final is None:
            self._refuse(487, CallEnd(EndCause.REMOTE_HANGUP, 487, "cancelled"))

    def handle_request(self, req: SipMessage) -> None:
        """In-dialog requests; the ACK for our 2xx stops its retransmission."""
        if req.method == "ACK" and req.cseq == self.invite.cseq:
            if not self._acked.done():
                self._acked.set_result(None)
            return
        super().handle_request(req)

    # -- what the handler does ------------------------------------------------------------------

    def ring(self) -> None:
        """180 Ringing: the caller hears its own ringback."""
        self._require_unanswered()
        self._send(self._response(180))
        self._set_state(CallState.RINGING)

    def early_media(self) -> None:
        """183 Session Progress with our SDP: audio flows (both ways) before the answer."""
        self._require_unanswered()
        self._send(self._response(183, body=self._answer_sdp()))
        self.media.start()
        self._set_state(CallState.EARLY_MEDIA)

    async def answer(self) -> None:
        """200 OK with our SDP, retransmitted until the caller's ACK (RFC 3261 §13.3.1.4).

        Returns once the ACK arrived. Raises :class:`CallFailedError` when the call ended
        first (caller cancelled, or no ACK within ``ack_timeout`` — then we send BYE).
        """
        self._require_unanswered()
        ok = self._response(200, body=self._answer_sdp())
        self._final = ok
        self.media.start()
        self._mark_answered()
        if self._session_answer is not None:
            timer = self._session_answer[0]
            self._run_session_timer(timer, refresh=we_refresh(timer, we_sent_request=False))
        try:
            await retransmit(
                lambda: self._send(ok),
                self._acked,
                timeout=self.ack_timeout,
                reliable=self._phone.transactions.reliable,
            )
        except TimeoutError:
            _LOGGER.info("No ACK for our 200 OK within %.0f s; hanging up", self.ack_timeout)
            await self._send_bye()
            self._end(CallEnd(EndCause.FAILED, None, "no ACK for 200 OK"))
        if self.ended.done():
            raise CallFailedError(self.ended.result())

    def reject(self, status: int = 486, reason: str | None = None) -> None:
        """Refuse the call with a final failure status (486 busy, 404, 480, 503, 603 …)."""
        if not 300 <= status < 700:
            raise ValueError(f"not a failure status: {status}")
        self._require_unanswered()
        self._refuse(status, CallEnd(EndCause.REJECTED, status, reason or "rejected"), reason)

    async def _abandon(self) -> CallEnd:
        """Hanging up before answering refuses the call (480)."""
        self._refuse(480, CallEnd(EndCause.LOCAL_HANGUP, 480, "hung up before answering"))
        return self.ended.result()

    # -- internals ------------------------------------------------------------------------------

    def _require_unanswered(self) -> None:
        if self.ended.done():
            raise CallFailedError(self.ended.result())
        if self._final is not None:
            raise RuntimeError("the call already has a final answer")

    def _refuse(self, status: int, end: CallEnd, reason: str | None = None) -> None:
        final = self._response(status, reason=reason)
        self._final = final
        # The INVITE's server transaction repeats it until the ACK and answers a repeated
        # INVITE with it: the call ends here and is forgotten.
        self._send(final)
        self._end(end)

    def _answer_sdp(self) -> bytes:
        codec = self.media.payload_type
        return sdp.build(
            self._phone.media_address,
            self.media.local_port or 0,
            codecs=(codec,),
            event_pt=self.offer.event_pt,
            direction=self.media.direction,
            origin=self._origin,
            crypto=self._crypto,
        )

    def _response(self, status: int, *, body: bytes = b"", reason: str | None = None) -> SipMessage:
        headers = [("Record-Route", value) for value in self.invite.header_values("record-route")]
        headers += [
            ("Contact", self._phone.contact),
            ("Allow", self._phone.allow),
            ("User-Agent", self._phone.user_agent),
        ]
        if status == 200 and self._session_answer is not None:
            headers += self._session_answer[1]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        return response_to(
            self.invite, status, to_tag=self.dialog.local_tag, headers=headers, body=body, reason=reason
        )

    def _send(self, response: SipMessage) -> None:
        self._phone.respond(self.invite, response)
