"""Call legs: the shared dialog/media half, and the outbound call (INVITE, progress, CANCEL)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np

from . import sdp
from .dialog import Dialog
from .dtmf import dtmf_tone
from .errors import SipAuthError, SipError, SipTimeoutError, SipTransferError
from .g711 import Pcm
from .rtp import MediaStream
from .sdp import Direction, MediaDescription, SdpError, SessionVersion
from .session_timer import (
    MIN_SE,
    SESSION_EXPIRES,
    Refresher,
    SessionTimer,
    min_se,
    session_expires,
    too_brief,
    uas_answer,
    we_refresh,
)
from .sipmsg import (
    SipMessage,
    SipParseError,
    new_branch,
    new_call_id,
    new_tag,
    request,
    response_to,
    uri_of,
)
from .srtp import Crypto, SrtpContext
from .transaction import TIMER_H, ClientTransaction, retransmit
from .ua_core import UaCore

_LOGGER = logging.getLogger(__name__)

RING_TIMEOUT: Final = 60.0  # no answer after this long: CANCEL
MEDIA_TIMEOUT: Final = 60.0  # no RTP at all for this long while answered: hang up
BYE_TIMEOUT: Final = 4.0
TRANSFER_TIMEOUT: Final = 30.0
DTMF_DURATION: Final = 0.1
DTMF_PACING: Final = 0.1
_SIPFRAG_STATUS = re.compile(r"^SIP/2\.0 (\d{3})")


class CallState(StrEnum):
    """Progress of a call leg."""

    DIALING = "dialing"
    INCOMING = "incoming"  # offered to us, not yet ringing
    RINGING = "ringing"
    EARLY_MEDIA = "early_media"
    ANSWERED = "answered"
    ENDED = "ended"


class EndCause(StrEnum):
    """Why a call ended."""

    BUSY = "busy"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"
    LOCAL_HANGUP = "local_hangup"
    REMOTE_HANGUP = "remote_hangup"
    MEDIA_TIMEOUT = "media_timeout"
    TRANSFERRED = "transferred"


_FAILURE_CAUSES: Final = {
    486: EndCause.BUSY,
    600: EndCause.BUSY,
    404: EndCause.NOT_FOUND,
    484: EndCause.NOT_FOUND,
    604: EndCause.NOT_FOUND,
    410: EndCause.NOT_FOUND,
    480: EndCause.NO_ANSWER,
    408: EndCause.NO_ANSWER,
    500: EndCause.UNAVAILABLE,
    502: EndCause.UNAVAILABLE,
    503: EndCause.UNAVAILABLE,
    504: EndCause.UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class CallEnd:
    """How a call ended: the cause, and the SIP status that caused it when there was one."""

    cause: EndCause
    status: int | None = None
    reason: str = ""


def cause_for_status(status: int) -> EndCause:
    """Map a final SIP failure status to a cause."""
    return _FAILURE_CAUSES.get(status, EndCause.REJECTED)


def reliable_sequence(response: SipMessage) -> int | None:
    """The ``RSeq`` of a reliable provisional response (RFC 3262 §7.1), else ``None``.

    Reliable means ``Require: 100rel`` with a valid ``RSeq`` and a To tag (the early dialog
    the PRACK goes in). Anything less cannot be acknowledged and is an ordinary 1xx.
    """
    if not 100 < (response.status or 0) < 200 or response.to_tag is None:
        return None
    required = {
        tag.strip().lower() for value in response.header_values("require") for tag in value.split(",")
    }
    rseq = (response.header("rseq") or "").strip()
    if "100rel" not in required or not rseq.isdigit() or not 0 < int(rseq) < 2**31:
        return None
    return int(rseq)


@dataclass(slots=True)
class EarlyDialog:
    """An early dialog of our INVITE with reliable provisional responses (RFC 3262 §4).

    ``rseq`` is the last RSeq acknowledged, ``prack`` the PRACK that acknowledged it (sent
    again when its response is repeated).
    """

    dialog: Dialog
    rseq: int
    prack: SipMessage | None = None


class CallFailedError(SipError):
    """The call ended before it was answered."""

    def __init__(self, end: CallEnd) -> None:
        super().__init__(f"{end.cause}: {end.status or ''} {end.reason}".strip())
        self.end = end


class CallLeg:
    """One call leg's dialog and media, whichever side placed it.

    The shared half of :class:`Call` (we dialled) and :class:`~.incoming.IncomingCall` (they
    dialled us). In-dialog requests, DTMF, playback, transfer, BYE, the media watchdog and the end of the
    call work the same for both; only how the call is set up differs.
    """

    media_timeout: float = MEDIA_TIMEOUT
    # RFC 4028: the interval our INVITEs ask for (0: none), and the smallest we accept.
    session_expires: int = SESSION_EXPIRES
    min_se: int = MIN_SE

    def __init__(self, phone: UaCore, media: MediaStream, dialog: Dialog, state: CallState) -> None:
        self._phone = phone
        self.media = media
        self.state = state
        self.dialog = dialog
        self.dtmf_received: asyncio.Queue[str] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[CallEnd] = self._loop.create_future()
        self._answered: asyncio.Future[None] = self._loop.create_future()
        self._listeners: list[Callable[[CallState], None]] = []
        self._origin = SessionVersion()
        self._crypto: Crypto | None = None  # our SRTP key line, offered or in force (RFC 4568)
        self._tasks: set[asyncio.Task[None]] = set()
        # re-INVITEs answered 200 whose ACK is due, by CSeq: (ACK arrived, our 200 carried an offer)
        self._acks_due: dict[int, tuple[asyncio.Future[SipMessage], bool]] = {}
        self._notify: asyncio.Queue[int] = asyncio.Queue()
        self.answered_at: float | None = None
        self.stray_responses = 0
        self._last_ack: SipMessage | None = None  # for a 2xx to our INVITE that arrives again
        self.session: SessionTimer | None = None  # the RFC 4028 session timer in force
        self.session_refreshes = 0  # refreshes we sent that succeeded, and ones we accepted
        self._session_task: asyncio.Task[None] | None = None
        media.on_dtmf = self.dtmf_received.put_nowait

    # -- observing ------------------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        """The SIP Call-ID."""
        return self.dialog.call_id

    def async_listen(self, listener: Callable[[CallState], None]) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _set_state(self, state: CallState) -> None:
        if self.state is state or self.state is CallState.ENDED:
            return
        self.state = state
        for listener in list(self._listeners):
            listener(state)

    async def wait_answered(self) -> None:
        """Wait until the far end answers; raise :class:`CallFailedError` if the call ends first."""
        waiters: list[asyncio.Future[object]] = [
            asyncio.ensure_future(asyncio.shield(self._answered)),
            asyncio.ensure_future(asyncio.shield(self.ended)),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not self._answered.done():
            raise CallFailedError(self.ended.result())

    def frames(self) -> AsyncGenerator[Pcm]:
        """20 ms int16 frames at 8 kHz heard on this call, until it ends."""
        return self.media.frames()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- in-dialog requests from the far end ----------------------------------------------------

    def handle_request(self, req: SipMessage) -> None:
        """A request that :meth:`Dialog.accepts` (the phone checked the tags)."""
        method = req.method or ""
        if method == "ACK":
            self._on_ack(req)
            return
        # Repeats of a request never come here: the transaction layer answers them.
        if self.dialog.remote_cseq is not None and req.cseq <= self.dialog.remote_cseq:
            self._reply(req, 500, reason="CSeq out of order")
            return
        self.dialog.remote_cseq = req.cseq
        if method == "BYE":
            self._reply(req, 200)
            self._end(CallEnd(EndCause.REMOTE_HANGUP, None, "BYE"))
        elif method in ("INVITE", "UPDATE") and too_brief(req, self.min_se):
            self._reply(req, 422, extra=[("Min-SE", str(self.min_se))])
        elif method == "INVITE":
            self._on_reinvite(req)
        elif method == "UPDATE":
            self._on_update(req)
        elif method == "INFO":
            self._reply(req, 200)
            self._on_info(req)
        elif method == "NOTIFY":
            self._reply(req, 200)
            self._on_notify(req)
        elif method == "OPTIONS":
            self._reply(req, 200)
        else:
            self._reply(req, 501)

    def _dialog_response(
        self,
        req: SipMessage,
        status: int,
        *,
        body: bytes = b"",
        reason: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> SipMessage:
        """Our response to an in-dialog request."""
        headers = [("Contact", self._phone.contact), ("Allow", self._phone.allow), *(extra or [])]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        return response_to(
            req, status, to_tag=self.dialog.local_tag, headers=headers, body=body, reason=reason
        )

    def _reply(
        self,
        req: SipMessage,
        status: int,
        *,
        body: bytes = b"",
        reason: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        self._phone.respond(req, self._dialog_response(req, status, body=body, reason=reason, extra=extra))

    def _answer_offer(self, req: SipMessage) -> bytes | None:
        """Apply the far end's SDP offer (hold, resume, new address); our answer, or ``None`` after 488."""
        try:
            offer = sdp.parse(req.body)
        except SdpError:
            self._reply(req, 488)
            return None
        codec = offer.codec
        if codec is None or not self._use_keys(offer, answering=True):
            self._reply(req, 488)
            return None
        ours = offer.direction.answer()
        self.media.set_remote(offer.address, offer.port, codec, offer.event_pt, ours)
        return self._sdp((codec,), offer.event_pt, ours)

    def _sdp(
        self, codecs: tuple[int, ...], event_pt: int | None, direction: Direction, *, changed: bool = True
    ) -> bytes:
        if changed:  # an unchanged session keeps its o= version (RFC 3264 §8, RFC 6337 §5.3)
            self._origin.bump()
        return sdp.build(
            self._phone.media_address,
            self.media.local_port or 0,
            codecs=codecs,
            event_pt=event_pt,
            direction=direction,
            origin=self._origin,
            crypto=self._crypto,
        )

    def _use_keys(self, description: MediaDescription, *, answering: bool) -> bool:
        """SRTP as the far end's offer or answer says; ``False``: it asks for SRTP we cannot do.

        Answering, we take the offer's first line we can use and answer it with our own key (the
        same key for the whole call, under the line's tag). In their answer, the line of our
        suite is theirs. A plain stream ends SRTP. The session (and its replay window) is kept
        while neither key changes.
        """
        if not description.secure:
            if self.media.srtp is not None:
                _LOGGER.info("The far end's SDP is plain RTP: media is no longer encrypted")
            self.media.srtp, self._crypto = None, None
            return True
        if answering:
            if not description.crypto:
                return False
            theirs = description.crypto[0]
            key = self._crypto.key if self._crypto and self._crypto.suite == theirs.suite else None
            ours = Crypto(theirs.tag, theirs.suite, key) if key else theirs.answering()
        else:
            ours_offered = self._crypto
            theirs_found = next(
                (line for line in description.crypto if ours_offered and line.suite == ours_offered.suite),
                None,
            )
            if ours_offered is None or theirs_found is None:
                return False
            ours, theirs = ours_offered, theirs_found
        current = self.media.srtp
        if current is None or (current.ours.key, current.theirs.key) != (ours.key, theirs.key):
            self.media.srtp = SrtpContext(ours, theirs)
        self._crypto = ours
        return True

    def _on_reinvite(self, req: SipMessage) -> None:
        """Hold, resume, a media change or a session refresh by the far end (RFC 3264 §8)."""
        offered = not req.body
        if req.body:
            answer = self._answer_offer(req)
            if answer is None:
                return
            body = answer
        else:
            # Offerless (RFC 3261 §14.2, a B2BUA re-routing media): we offer in the 200, sendrecv,
            # the codec in use first; the answer comes in the ACK.
            current = self.media.payload_type
            codecs = (current, *(pt for pt in sdp.SUPPORTED_CODECS if pt != current))
            body = self._sdp(codecs, self.media.event_pt or sdp.DEFAULT_EVENT_PT, Direction.SENDRECV)
        ok = self._dialog_response(req, 200, body=body, extra=self._accept_session(req))
        acked: asyncio.Future[SipMessage] = self._loop.create_future()
        self._acks_due[req.cseq] = (acked, offered)
        self._spawn(self._repeat_ok(req, ok, acked), "hold_slayer re-INVITE 200")

    def _on_update(self, req: SipMessage) -> None:
        """UPDATE (RFC 3311): a session refresh, or a new offer answered at once (no ACK)."""
        body = b""
        if req.body:
            answer = self._answer_offer(req)
            if answer is None:
                return
            body = answer
        self._reply(req, 200, body=body, extra=self._accept_session(req))

    async def _repeat_ok(self, req: SipMessage, ok: SipMessage, acked: asyncio.Future[SipMessage]) -> None:
        """Send our 200 to a re-INVITE until its ACK arrives (RFC 3261 §13.3.1.4)."""
        try:
            await retransmit(
                lambda: self._phone.respond(req, ok),
                acked,
                timeout=TIMER_H,
                reliable=self._phone.transactions.reliable,
            )
        except TimeoutError:
            self._acks_due.pop(req.cseq, None)
            if self.ended.done():
                return
            # The dialog stays, but the session SHOULD end (RFC 3261 §13.3.1.4).
            _LOGGER.info("No ACK for our 200 to a re-INVITE within %.0f s; hanging up", TIMER_H)
            await self._send_bye()
            self._end(CallEnd(EndCause.FAILED, None, "no ACK for the 200 to a re-INVITE"))

    def _on_ack(self, ack: SipMessage) -> None:
        """The ACK for our 200 to a re-INVITE: stop repeating it; apply an SDP answer it carries."""
        due = self._acks_due.pop(ack.cseq, None)
        if due is None:
            return  # the ACK for the initial INVITE, or a retransmitted ACK
        acked, offered = due
        if not acked.done():
            acked.set_result(ack)
        if not offered:
            return
        if not ack.body or ack.content_type != "application/sdp":
            # RFC 3264 §8 requires the answer here; without one the old session stays in use.
            _LOGGER.debug("ACK without the SDP answer to our offer; media unchanged")
            return
        try:
            answer = sdp.parse(ack.body)
        except SdpError as err:
            _LOGGER.debug("Unusable SDP answer in ACK: %s", err)
            return
        if answer.codec is None or not self._use_keys(answer, answering=False):
            _LOGGER.debug("SDP answer in ACK has no codec or SRTP key we offered; media unchanged")
            return
        self.media.set_remote(
            answer.address, answer.port, answer.codec, answer.event_pt, answer.direction.answer()
        )

    # -- session timers (RFC 4028) -------------------------------------------------------------

    def _accept_session(self, req: SipMessage) -> list[tuple[str, str]]:
        """A refresh (or first negotiation) by the far end: restart the timer; headers for our 2xx."""
        answer = uas_answer(req)
        if answer is None:
            if req.method == "INVITE":
                self._run_session_timer(None)  # a re-INVITE without Session-Expires ends the timer
            return []
        timer, headers = answer
        if self.session is not None:
            self.session_refreshes += 1
        self._run_session_timer(timer, refresh=we_refresh(timer, we_sent_request=False))
        return headers

    def _run_session_timer(
        self, timer: SessionTimer | None, *, refresh: bool = False, delay: float | None = None
    ) -> None:
        """(Re)start the session timer: refresh at half the interval, or expect a refresh."""
        self.session = timer
        current = asyncio.current_task()
        if self._session_task is not None and self._session_task is not current:
            self._session_task.cancel()
        self._session_task = None
        if timer is not None and not self.ended.done():
            self._session_task = self._spawn(
                self._session_timer(timer, refresh, delay), "hold_slayer session timer"
            )

    async def _session_timer(self, timer: SessionTimer, refresh: bool, delay: float | None) -> None:
        if refresh:
            await asyncio.sleep(timer.interval / 2 if delay is None else delay)
            await self._refresh_session(timer)
            return
        await asyncio.sleep(timer.watch_after)
        if not self.ended.done():
            _LOGGER.info("No session refresh within %.0f s; hanging up (RFC 4028)", timer.watch_after)
            await self._send_bye()
            self._end(CallEnd(EndCause.FAILED, None, "session timer expired without a refresh"))

    async def _refresh_session(self, timer: SessionTimer) -> None:
        """Our refresh: a re-INVITE with the session as it is (RFC 4028 §7.4), 422 retried once."""
        interval, minimum = timer.interval, None
        response: SipMessage | None = None
        sent: list[SipMessage] = []  # the re-INVITEs, the last one with credentials if challenged
        for _attempt in range(2):
            headers = [
                ("Via", self._phone.via(new_branch())),
                ("Contact", self._phone.contact),
                ("Supported", "timer"),
                SessionTimer(interval, Refresher.UAC).header(),
                *([("Min-SE", str(minimum))] if minimum else []),
                ("Content-Type", "application/sdp"),
            ]
            body = self._sdp(
                (self.media.payload_type,), self.media.event_pt, self.media.direction, changed=False
            )
            try:
                response = await self._phone.request_in_dialog(
                    self.dialog.build("INVITE", headers, body), self.dialog, on_send=sent.append
                )
            except SipTimeoutError:
                response = None
                break
            except SipError as err:
                _LOGGER.debug("Session refresh not sent: %s", err)
                response = None
                break
            wanted = min_se(response)
            if response.status == 422 and wanted is not None and wanted > interval:
                interval = minimum = wanted
                continue
            break
        status = response.status or 0 if response is not None else 408
        if 200 <= status < 300 and response is not None:
            self._acknowledge(response, sent[-1])  # with the credentials the 2xx answered
            self._apply_refresh_answer(response)
            self.session_refreshes += 1
            granted = session_expires(response)
            self._run_session_timer(
                granted, refresh=granted is not None and we_refresh(granted, we_sent_request=True)
            )
        elif status in (408, 481):  # RFC 4028 §10: the session is gone
            _LOGGER.info("Session refresh failed (%s); hanging up", status)
            await self._send_bye()
            self._end(CallEnd(EndCause.FAILED, status, "session refresh failed"))
        else:  # 491 glare, 500 …: the session goes on; try again soon
            _LOGGER.debug("Session refresh answered %s; retrying", status)
            self._run_session_timer(timer, refresh=True, delay=min(4.0, interval / 8))

    def _acknowledge(self, response: SipMessage, invite: SipMessage | None = None) -> None:
        """The ACK for a 2xx to our ``invite`` (kept for the 2xx's retransmissions).

        With the INVITE's credentials, if it carried any (RFC 3261 §13.2.2.4): proxies that
        challenged the INVITE may check the ACK too.
        """
        credentials = [
            (name, value)
            for name, value in (invite.headers if invite is not None else [])
            if name in ("Authorization", "Proxy-Authorization")
        ]
        ack = self.dialog.build(
            "ACK",
            [("Via", self._phone.via(new_branch())), ("Contact", self._phone.contact), *credentials],
            cseq=response.cseq,
        )
        self._last_ack = ack
        self._phone.send_in_dialog(ack, self.dialog)

    def _apply_refresh_answer(self, response: SipMessage) -> None:
        if not response.body or response.content_type != "application/sdp":
            return
        try:
            answer = sdp.parse(response.body)
        except SdpError as err:
            _LOGGER.debug("Unusable SDP answer to our refresh: %s", err)
            return
        if answer.codec is not None and self._use_keys(answer, answering=False):
            self.media.set_remote(
                answer.address, answer.port, answer.codec, answer.event_pt, answer.direction.answer()
            )

    def _on_info(self, req: SipMessage) -> None:
        if req.content_type == "application/dtmf-relay":
            match = re.search(r"Signal\s*=\s*([0-9A-D*#])", req.body.decode("utf-8", "replace"), re.I)
            if match:
                self.dtmf_received.put_nowait(match.group(1).upper())

    def _on_notify(self, req: SipMessage) -> None:
        if (req.header("event") or "").split(";")[0].strip().lower() != "refer":
            return
        match = _SIPFRAG_STATUS.match(req.body.decode("utf-8", "replace"))
        if match:
            self._notify.put_nowait(int(match.group(1)))

    # -- acting ---------------------------------------------------------------------------------

    async def send_dtmf(
        self,
        digits: str,
        *,
        duration: float = DTMF_DURATION,
        pacing: float = DTMF_PACING,
        inband: bool = False,
    ) -> None:
        """Send digits one at a time (RFC 4733 events, or tones in the audio) with a gap between."""
        digits = digits.upper()
        if invalid := set(digits) - set("0123456789*#ABCD"):
            raise ValueError(f"not DTMF digits: {''.join(sorted(invalid))}")
        if self.state is not CallState.ANSWERED:
            raise SipError("the call is not answered")
        for index, digit in enumerate(digits):
            if self.media.event_pt is not None and not inband:
                await self.media.send_event(digit, duration)
            else:
                await self.media.play(dtmf_tone(digit, duration))
            if index < len(digits) - 1:
                await self.media.play(np.zeros(round(pacing * 8000), dtype=np.int16))

    async def play(self, samples: Pcm) -> bool:
        """Play 8 kHz int16 audio in real time; ``False`` if :meth:`stop_playback` cut it off."""
        return await self.media.play(samples)

    def stop_playback(self) -> None:
        """Barge-in: stop what is playing now."""
        self.media.cancel_playback()

    async def transfer(self, target: str) -> None:
        """Blind transfer by REFER (RFC 3515); raise :class:`SipTransferError` if refused."""
        if self.state is not CallState.ANSWERED:
            raise SipTransferError("the call is not answered")
        refer_to = self._phone.target_uri(target)
        req = self.dialog.build(
            "REFER",
            [
                ("Via", self._phone.via(new_branch())),
                ("Contact", self._phone.contact),
                ("Refer-To", f"<{refer_to}>"),
                ("Referred-By", self.dialog.local_uri),
            ],
        )
        response = await self._phone.request_in_dialog(req, self.dialog)
        if not 200 <= (response.status or 0) < 300:
            raise SipTransferError(f"REFER refused: {response.status} {response.reason}")
        try:
            async with asyncio.timeout(TRANSFER_TIMEOUT):
                while (status := await self._notify.get()) < 200:
                    continue
        except TimeoutError as err:
            raise SipTransferError("no final NOTIFY for the transfer") from err
        if not 200 <= status < 300:
            raise SipTransferError(f"transfer target answered {status}")
        await self._send_bye()
        self._end(CallEnd(EndCause.TRANSFERRED, None, refer_to))

    async def _send_bye(self) -> None:
        bye = self.dialog.build("BYE", [("Via", self._phone.via(new_branch()))])
        try:
            await self._phone.request_in_dialog(bye, self.dialog, timeout=BYE_TIMEOUT)
        except SipError as err:
            _LOGGER.debug("BYE failed: %s", err)

    async def _watch_media(self) -> None:
        """Hang up a call whose media stopped for good (a dead NAT binding, a vanished peer).

        Only while the negotiated direction says the far end sends: an ``inactive`` or
        ``recvonly`` hold (carriers, Cisco CUCM) is silence by agreement, and the count starts
        afresh when the direction returns to ``sendrecv``.
        """
        self.media.watch()
        while not self.ended.done():
            await asyncio.sleep(min(1.0, self.media_timeout / 4))
            silent = self.media.seconds_without_media()
            if silent is not None and silent > self.media_timeout and not self.ended.done():
                _LOGGER.info("No RTP for %.0f s; hanging up", silent)
                await self._send_bye()
                self._end(CallEnd(EndCause.MEDIA_TIMEOUT, None, f"no RTP for {silent:.0f} s"))

    async def hangup(self) -> CallEnd:
        """End the call from our side: BYE once answered, else whatever the setup side does."""
        if self.ended.done():
            return self.ended.result()
        if self.state is CallState.ANSWERED:
            await self._send_bye()
            self._end(CallEnd(EndCause.LOCAL_HANGUP, None, "hung up"))
            return self.ended.result()
        return await self._abandon()

    async def _abandon(self) -> CallEnd:
        """Give up a call that is not answered yet (CANCEL or a final refusal)."""
        raise NotImplementedError

    def _mark_answered(self) -> None:
        """The dialog is confirmed and media flows both ways."""
        self.answered_at = self._loop.time()
        self._answered.set_result(None)
        self._set_state(CallState.ANSWERED)
        self._spawn(self._watch_media(), "hold_slayer media watchdog")

    def _answer_tag(self) -> str | None:
        """The To tag of the answer this call took (its INVITE's first 2xx)."""
        return self.dialog.remote_tag

    def on_stray_response(self, response: SipMessage) -> None:
        """A response no transaction wants: a repeated 2xx to our INVITE means our ACK was lost."""
        self.stray_responses += 1
        if response.cseq_method != "INVITE" or not 200 <= (response.status or 0) < 300:
            return
        ack = self._last_ack
        if (answered := self._answer_tag()) is not None and response.to_tag != answered:
            self._phone.end_unwanted_session(response)  # another fork answered too: not ours to keep
        elif ack is not None and response.cseq == ack.cseq:
            self._phone.send_in_dialog(ack, self.dialog)
        elif (
            response.cseq > (ack.cseq if ack is not None else 0)
            and self.dialog.remote_tag is not None
            and response.to_tag == self.dialog.remote_tag
        ):
            # A 2xx to a re-INVITE of ours we stopped waiting for (a refresh cut short): every
            # 2xx to INVITE is ACKed, or the far end repeats it and may hang up (RFC 3261 §13.2.2.4).
            self._acknowledge(response)

    # -- ending ---------------------------------------------------------------------------------

    def _end(self, end: CallEnd) -> None:
        if self.ended.done():
            return
        self._set_state(CallState.ENDED)
        self.state = CallState.ENDED
        self.ended.set_result(end)
        self._phone.forget(self.call_id)
        self._spawn(self._cleanup(), "hold_slayer call cleanup")

    async def _cleanup(self) -> None:
        await self.media.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    async def close(self) -> None:
        """End the call here and now (no signalling) and wait for all its tasks to finish.

        :meth:`hangup` is the polite way; the phone calls this afterwards so that a far end
        that never answers our BYE or CANCEL cannot keep anything running.
        """
        self._end(CallEnd(EndCause.LOCAL_HANGUP, None, "phone stopped"))
        current = asyncio.current_task()
        while pending := [task for task in self._tasks if task is not current]:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.media.close()


class Call(CallLeg):
    """An outbound call. Create with :meth:`SipPhone.dial`.

    A 3xx redirect is followed once, to the first Contact the redirect names, if
    ``may_redirect`` allows that target (the caller's dial plan); otherwise the call ends with
    the 3xx.
    """

    ring_timeout: float = RING_TIMEOUT

    def __init__(
        self,
        phone: UaCore,
        request_uri: str,
        media: MediaStream,
        *,
        may_redirect: Callable[[str], bool] | None = None,
    ) -> None:
        dialog = Dialog(
            call_id=new_call_id(phone.local_ip),
            local_tag=new_tag(),
            local_uri=phone.from_value,
            remote_uri=f"<{request_uri}>",
        )
        super().__init__(phone, media, dialog, CallState.DIALING)
        self.request_uri = request_uri
        self.may_redirect = may_redirect
        self.redirected_from: str | None = None  # the target a 3xx moved us away from
        self._invite: ClientTransaction | None = None
        self._invite_request: SipMessage | None = None
        self._cancel_requested = False
        # Early dialogs with reliable 1xx of the current INVITE, by To tag (one per fork).
        self._early: dict[str, EarlyDialog] = {}
        # SRTP offered where the account wants it (TLS); a 488 to it is retried in plain RTP.
        self._crypto = Crypto.new() if phone.secure_media else None

    # -- dialing --------------------------------------------------------------------------------

    def start(self) -> None:
        """Send the INVITE (from :meth:`SipPhone.dial`)."""
        self._spawn(self._run_invite(), "hold_slayer INVITE")

    def _build_invite(
        self, cseq: int, challenge: SipMessage | None, interval: int, minimum: int | None
    ) -> SipMessage:
        """Our INVITE; after a 401/407 ``challenge``, with credentials over this very body (auth-int)."""
        phone = self._phone
        body = sdp.build(
            phone.media_address, self.media.local_port or 0, origin=self._origin, crypto=self._crypto
        )
        headers = [
            ("Via", phone.via(new_branch())),
            ("Max-Forwards", "70"),
            ("From", f"{self.dialog.local_uri};tag={self.dialog.local_tag}"),
            ("To", self.dialog.remote_uri),
            ("Call-ID", self.dialog.call_id),
            ("CSeq", f"{cseq} INVITE"),
            ("Contact", phone.contact),
            *phone.initial_route(),
            ("Allow", phone.allow),
            # RFC 3262 §3: a UAC that can PRACK says so in every INVITE; carriers that interwork
            # with the PSTN send their 18x (and the early media answer in a 183) reliably.
            ("Supported", "100rel, timer"),
            ("User-Agent", phone.user_agent),
            ("Content-Type", "application/sdp"),
        ]
        if interval:  # the UAS chooses the refresher (RFC 4028 §7.1)
            headers.append(SessionTimer(interval).header())
        if minimum:
            headers.append(("Min-SE", str(minimum)))
        if challenge is not None:
            headers.append(phone.authorization(challenge, "INVITE", self.request_uri, body=body))
        return request("INVITE", self.request_uri, headers, body)

    async def _run_invite(self) -> None:
        phone = self._phone
        cseq = self.dialog.local_cseq
        challenge: SipMessage | None = None
        interval, minimum = self.session_expires, None
        try:
            for _attempt in range(5):  # again after 401/407 and after 422; a redirect, and its 401
                self._invite_request = self._build_invite(cseq, challenge, interval, minimum)
                self._early.clear()  # RSeq spaces belong to one INVITE (RFC 3262 §4)
                transaction = phone.transactions.client(
                    self._invite_request,
                    await phone.out_of_dialog_destination(self.request_uri),
                    timeout=self.ring_timeout,
                    on_provisional=self._on_provisional,
                    on_late_2xx=self.on_stray_response,
                )
                self._invite = transaction
                with phone.transactions.track(transaction):
                    if self._cancel_requested:
                        return
                    response = await transaction.run()
                status = response.status or 0
                wanted = min_se(response)
                if status in (401, 407) and challenge is None:
                    challenge = response
                elif status == 488 and self._crypto is not None:
                    _LOGGER.info("The far end refused SRTP (488): calling again with plain RTP")
                    self._crypto = None
                elif status == 422 and minimum is None and wanted is not None and wanted > interval:
                    interval = minimum = wanted  # RFC 4028 §7.3: retry with the Min-SE asked for
                elif 300 <= status < 400 and (target := self._redirect_target(response)) is not None:
                    # RFC 3261 §8.1.3.4: a new INVITE to the new target, in the same call.
                    _LOGGER.info("Call redirected (%d %s)", status, response.reason)
                    self.redirected_from, self.request_uri = self.request_uri, target
                    challenge = None  # another target may challenge afresh
                else:
                    break
                # Above any PRACK of this INVITE too: they share our CSeq space.
                cseq = self.dialog.local_cseq = max(cseq, self.dialog.local_cseq) + 1
        except SipTimeoutError:
            if self._invite is not None and self._invite.provisional_received:
                await self._send_cancel()
                self._end(CallEnd(EndCause.NO_ANSWER, None, "no answer"))
            else:
                self._end(CallEnd(EndCause.FAILED, None, "no response to INVITE"))
            return
        except SipAuthError as err:
            self._end(CallEnd(EndCause.REJECTED, 407, str(err)))
            return
        except SipError as err:
            self._end(CallEnd(EndCause.FAILED, None, str(err)))
            return
        status = response.status or 0
        if 200 <= status < 300:
            await self._on_answered(response)
        elif status == 487 and self._cancel_requested:
            self._end(CallEnd(EndCause.LOCAL_HANGUP, 487, "cancelled"))
        else:
            self._end(CallEnd(cause_for_status(status), status, response.reason))

    def _answer_tag(self) -> str | None:
        """The To tag of the answer this call took, also before the dialog is confirmed."""
        final = self._invite.final if self._invite is not None else None
        if self.dialog.remote_tag is None and final is not None and 200 <= (final.status or 0) < 300:
            return final.to_tag
        return super()._answer_tag()

    def _redirect_target(self, response: SipMessage) -> str | None:
        """Where a 3xx sends the call, if it is to be followed: once, and as the dial plan allows."""
        if self.redirected_from is not None or self.may_redirect is None:
            return None
        contact = response.header("contact")
        target = uri_of(contact) if contact else ""
        if not target.startswith(("sip:", "sips:")) or not self.may_redirect(target):
            return None
        return target

    def _on_provisional(self, response: SipMessage) -> None:
        if self._cancel_requested:
            self._spawn(self._send_cancel(), "hold_slayer CANCEL")
            return
        rseq = reliable_sequence(response)
        if rseq is not None and not self._acknowledge_provisional(response, rseq):
            return  # a repeat, or out of order
        sdp_body = bool(response.body) and response.content_type == "application/sdp"
        if sdp_body and self._apply_answer(response, early=True):
            self._set_state(CallState.EARLY_MEDIA)
            return
        if response.status in (180, 181, 182, 183) and self.state is CallState.DIALING:
            self._set_state(CallState.RINGING)

    def _acknowledge_provisional(self, response: SipMessage, rseq: int) -> bool:
        """PRACK a reliable 1xx (RFC 3262 §4); whether it is new and to be processed.

        The PRACK goes in the early dialog the 1xx sets up (its To tag, its Contact as the
        target, its Record-Route as the route set). Only the next RSeq of that early dialog is
        new. A repeat of the last one is not processed again, but gets our PRACK again: the far
        end repeats its 1xx until a PRACK reaches it, and the same request (same CSeq and
        branch) is absorbed by its transaction if ours crossed the repeat. Any other RSeq is out
        of order and ignored, without a PRACK, as RFC 3262 §4 requires.
        """
        tag = response.to_tag or ""
        early = self._early.get(tag)
        if early is None:
            dialog = Dialog(
                call_id=self.dialog.call_id,
                local_tag=self.dialog.local_tag,
                local_uri=self.dialog.local_uri,
                remote_uri=self.dialog.remote_uri,
                remote_target=self.request_uri,  # a 1xx without Contact: where the INVITE went
            )
            dialog.confirm(response)
            early = self._early[tag] = EarlyDialog(dialog, rseq - 1)
        if rseq == early.rseq:
            if early.prack is not None:
                self._phone.send_in_dialog(early.prack, early.dialog)
            return False
        if rseq != early.rseq + 1:
            _LOGGER.debug(
                "Ignoring a reliable %s out of order (RSeq %d after %d)", response.status, rseq, early.rseq
            )
            return False
        early.rseq = rseq
        # One CSeq space for the early dialogs and the dialog the answer confirms.
        early.dialog.local_cseq = max(early.dialog.local_cseq, self.dialog.local_cseq)
        prack = early.dialog.build(
            "PRACK",
            [
                ("Via", self._phone.via(new_branch())),
                ("RAck", f"{rseq} {response.cseq} {response.cseq_method}"),
            ],
        )
        self.dialog.local_cseq = early.dialog.local_cseq
        early.prack = prack
        self._spawn(self._send_prack(early, prack), "hold_slayer PRACK")
        return True

    async def _send_prack(self, early: EarlyDialog, prack: SipMessage) -> None:
        """The PRACK's transaction, with credentials if a proxy challenges it."""

        def sent(req: SipMessage) -> None:
            early.prack = req  # the request with credentials is the one to repeat

        try:
            response = await self._phone.request_in_dialog(prack, early.dialog, on_send=sent)
        except (SipError, SipParseError) as err:
            # The far end gives up on the 1xx in time (RFC 3262 §3); the INVITE goes on.
            _LOGGER.debug("PRACK failed: %s", err)
            return
        finally:
            self.dialog.local_cseq = max(self.dialog.local_cseq, early.dialog.local_cseq)
        if not 200 <= (response.status or 0) < 300:
            _LOGGER.debug("PRACK answered %s %s", response.status, response.reason)

    def _apply_answer(self, response: SipMessage, *, early: bool) -> bool:
        try:
            answer = sdp.parse(response.body)
        except SdpError as err:
            _LOGGER.debug("Unusable SDP in %s: %s", response.status, err)
            return False
        codec = answer.codec
        if codec is None or not self._use_keys(answer, answering=False):
            return False
        ours = Direction.RECVONLY if early else answer.direction.answer()
        self.media.set_remote(answer.address, answer.port, codec, answer.event_pt, ours)
        self.media.start()
        return True

    async def _on_answered(self, response: SipMessage) -> None:
        self.dialog.confirm(response)
        self._acknowledge(response, self._invite_request)
        if self._cancel_requested:  # the 200 crossed our CANCEL: end it properly
            await self._send_bye()
            self._end(CallEnd(EndCause.LOCAL_HANGUP, None, "cancelled"))
            return
        if not self._apply_answer(response, early=False):
            await self._send_bye()
            self._end(CallEnd(EndCause.FAILED, 488, "no common codec (or SRTP key) in the answer"))
            return
        self._mark_answered()
        if (granted := session_expires(response)) is not None:
            self._run_session_timer(granted, refresh=we_refresh(granted, we_sent_request=True))

    async def _abandon(self) -> CallEnd:
        """CANCEL while ringing; the far end's 487 (or a timeout) ends the call."""
        self._cancel_requested = True
        if self._invite is not None and self._invite.provisional_received:
            await self._send_cancel()
        try:
            async with asyncio.timeout(BYE_TIMEOUT):
                await asyncio.shield(self.ended)
        except TimeoutError:
            self._end(CallEnd(EndCause.LOCAL_HANGUP, None, "cancelled"))
        return self.ended.result()

    async def _send_cancel(self) -> None:
        if self._invite_request is None or self._invite is None:
            return
        inv = self._invite_request
        headers = [
            (name, value) for name, value in inv.headers if name in ("Via", "From", "To", "Call-ID", "Route")
        ]
        headers += [("CSeq", f"{inv.cseq} CANCEL"), ("Max-Forwards", "70")]
        cancel = request("CANCEL", inv.uri or "", headers)
        transaction = self._phone.transactions.client(cancel, self._invite.destination, timeout=BYE_TIMEOUT)
        try:
            with self._phone.transactions.track(transaction):
                await transaction.run()
        except SipError as err:
            _LOGGER.debug("CANCEL failed: %s", err)
