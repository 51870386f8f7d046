"""Calls placed to us (UAS): our own dialer, baresip dialling in, and Kamailio in between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from custom_components.hold_slayer.telephony import (
    CallEnd,
    CallFailedError,
    CallState,
    EndCause,
    IncomingCall,
    SipPhone,
    Transport,
)
from custom_components.hold_slayer.telephony.g711 import Pcm
from custom_components.hold_slayer.telephony.incoming import without_tag
from harness.accounts import direct_account, make_account
from harness.servers.baresip import baresip_peer, read_wav
from harness.servers.kamailio import Registrar, free_port
from harness.signals import best_alignment, noise
from tests.telephony.conftest import started

pytestmark = pytest.mark.usefixtures("socket_enabled")

LEVEL_FLOOR = 300.0  # RMS of frames that carry the far end's audio, not silence


def rms(frames: list[Pcm]) -> float:
    """RMS level of some frames."""
    joined = np.concatenate(frames).astype(np.float64)
    return float(np.sqrt(np.mean(joined**2)))


class Inbox:
    """An ``on_incoming`` handler that queues calls for the test to drive."""

    def __init__(self, prepare: Callable[[IncomingCall], None] | None = None) -> None:
        self.calls: asyncio.Queue[IncomingCall] = asyncio.Queue()
        self.prepare = prepare

    def __call__(self, call: IncomingCall) -> None:
        if self.prepare is not None:
            self.prepare(call)
        self.calls.put_nowait(call)

    async def next(self, within: float = 5.0) -> IncomingCall:
        async with asyncio.timeout(within):
            return await self.calls.get()


@pytest.fixture
async def callee() -> AsyncIterator[tuple[SipPhone, Inbox]]:
    """A phone without registrar that takes calls (it never dials, so its peer port is moot)."""
    inbox = Inbox()
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=inbox)
    async with started(phone):
        yield phone, inbox


def port_of(phone: SipPhone) -> int:
    """The started phone's SIP port."""
    assert phone.transport.local_port is not None
    return phone.transport.local_port


def caller_for(callee: SipPhone) -> SipPhone:
    """A direct phone that dials ``callee``."""
    return SipPhone(direct_account(port_of(callee)), register=False)


def uri(phone: SipPhone, user: str = "company") -> str:
    return f"sip:{user}@127.0.0.1:{port_of(phone)}"


async def test_ring_early_media_answer_both_ways(callee: tuple[SipPhone, Inbox]) -> None:
    """Ringing, 183 early media, 200/ACK, audio and DTMF both ways, then the callee hangs up."""
    phone, inbox = callee
    async with started(caller_for(phone)) as caller:
        states: list[CallState] = []
        call = await caller.dial(uri(phone, "+18005550100"))
        call.async_listen(states.append)
        incoming = await inbox.next()
        assert incoming.state is CallState.INCOMING
        assert incoming.called_user == "+18005550100"
        assert incoming.caller.startswith("sip:slayer@")
        incoming.ring()
        await asyncio.sleep(0.2)
        assert call.state is CallState.RINGING
        incoming.early_media()
        heard: list[Pcm] = []

        async def listen() -> None:
            async for frame in call.frames():
                heard.append(frame)  # noqa: PERF401 - read while the call goes on

        listener = asyncio.create_task(listen())
        prompt = noise(0.6, seed=3)
        assert await incoming.play(prompt)
        assert call.state is CallState.EARLY_MEDIA
        early = rms(heard[-25:])
        assert early > LEVEL_FLOOR
        await incoming.answer()
        await call.wait_answered()
        assert incoming.state is CallState.ANSWERED
        assert states == [CallState.RINGING, CallState.EARLY_MEDIA, CallState.ANSWERED]
        # caller → callee: RFC 4733 digits and audio
        await call.send_dtmf("12#")
        digits = [await asyncio.wait_for(incoming.dtmf_received.get(), 2) for _ in range(3)]
        assert digits == ["1", "2", "#"]
        got: list[Pcm] = []

        async def record() -> None:
            async for frame in incoming.frames():
                got.append(frame)  # noqa: PERF401 - read while the call goes on

        recorder = asyncio.create_task(record())
        speech = noise(1.0, seed=5)
        await call.play(speech)
        await asyncio.sleep(0.2)
        correlation, _ = best_alignment(np.concatenate(got), speech)
        assert correlation > 0.9
        # callee → caller
        await incoming.send_dtmf("7")
        assert await asyncio.wait_for(call.dtmf_received.get(), 2) == "7"
        end = await incoming.hangup()
        assert end.cause is EndCause.LOCAL_HANGUP
        caller_end = await asyncio.wait_for(call.ended, 5)
        assert caller_end.cause is EndCause.REMOTE_HANGUP
        await asyncio.gather(listener, recorder)
        assert incoming.media.stats.packets_sent > 50


async def test_caller_hangs_up_after_answer(callee: tuple[SipPhone, Inbox]) -> None:
    """The caller's BYE ends the incoming call."""
    phone, inbox = callee
    async with started(caller_for(phone)) as caller:
        call = await caller.dial(uri(phone))
        incoming = await inbox.next()
        await incoming.answer()
        await call.wait_answered()
        await call.hangup()
        end = await asyncio.wait_for(incoming.ended, 5)
        assert end == CallEnd(EndCause.REMOTE_HANGUP, None, "BYE")
        assert phone.calls == []


@pytest.mark.parametrize(
    ("status", "cause"),
    [(486, EndCause.BUSY), (404, EndCause.NOT_FOUND), (503, EndCause.UNAVAILABLE), (603, EndCause.REJECTED)],
)
async def test_reject_maps_to_caller_causes(
    callee: tuple[SipPhone, Inbox], status: int, cause: EndCause
) -> None:
    """A refusal reaches the caller as the status's cause; the callee records what it did."""
    phone, inbox = callee
    async with started(caller_for(phone)) as caller:
        call = await caller.dial(uri(phone))
        incoming = await inbox.next()
        incoming.ring()
        incoming.reject(status)
        with pytest.raises(CallFailedError) as failed:
            await call.wait_answered()
        assert failed.value.end.cause is cause
        assert failed.value.end.status == status
        assert incoming.ended.result() == CallEnd(EndCause.REJECTED, status, "rejected")
        with pytest.raises(CallFailedError):
            incoming.ring()
        with pytest.raises(ValueError, match="not a failure status"):
            incoming.reject(200)


async def test_caller_cancels_while_ringing(callee: tuple[SipPhone, Inbox]) -> None:
    """CANCEL: 200 for it, 487 for the INVITE; the callee's call ends as the caller's hang-up."""
    phone, inbox = callee
    async with started(caller_for(phone)) as caller:
        call = await caller.dial(uri(phone))
        incoming = await inbox.next()
        incoming.ring()
        await asyncio.sleep(0.2)
        end = await call.hangup()
        assert end.cause is EndCause.LOCAL_HANGUP
        assert await asyncio.wait_for(incoming.ended, 5) == CallEnd(EndCause.REMOTE_HANGUP, 487, "cancelled")
        with pytest.raises(CallFailedError):
            await incoming.answer()


async def test_unanswered_call_times_out() -> None:
    """After ``ring_timeout`` the caller gets 480 (no answer); ``None`` would ring on."""

    def short(call: IncomingCall) -> None:
        call.ring_timeout = 0.5

    inbox = Inbox(prepare=short)
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=inbox)
    async with started(phone), started(caller_for(phone)) as caller:
        call = await caller.dial(uri(phone))
        incoming = await inbox.next()
        incoming.ring()
        with pytest.raises(CallFailedError) as failed:
            await call.wait_answered()
        assert failed.value.end.cause is EndCause.NO_ANSWER
        assert incoming.ended.result().cause is EndCause.NO_ANSWER


async def test_phone_stop_refuses_unanswered_and_ends_answered(callee: tuple[SipPhone, Inbox]) -> None:
    """Stopping the callee's phone refuses a ringing call (480) and hangs up an answered one."""
    phone, inbox = callee
    async with started(caller_for(phone)) as caller:
        ringing = await caller.dial(uri(phone))
        first = await inbox.next()
        first.ring()
        answered = await caller.dial(uri(phone))
        second = await inbox.next()
        await second.answer()
        await answered.wait_answered()
        await phone.stop()
        assert first.ended.result() == CallEnd(EndCause.LOCAL_HANGUP, 480, "hung up before answering")
        assert second.ended.result().cause is EndCause.LOCAL_HANGUP
        failed = await asyncio.wait_for(ringing.ended, 5)
        assert failed.cause is EndCause.NO_ANSWER
        assert (await asyncio.wait_for(answered.ended, 5)).cause is EndCause.REMOTE_HANGUP


async def test_handler_failure_refuses_with_500() -> None:
    """A handler that raises does not leave the caller hanging."""

    def broken(call: IncomingCall) -> None:
        raise RuntimeError("boom")

    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=broken)
    async with started(phone), started(caller_for(phone)) as caller:
        call = await caller.dial(uri(phone))
        with pytest.raises(CallFailedError) as failed:
            await call.wait_answered()
        assert failed.value.end.status == 500


def test_without_tag() -> None:
    """From/To values lose only their tag."""
    assert without_tag('"A" <sip:a@h>;tag=abc;x=1') == '"A" <sip:a@h>;x=1'
    assert without_tag("<sip:a@h>") == "<sip:a@h>"


async def test_baresip_calls_in() -> None:
    """An independent SIP stack dials us: early media, answer, audio both ways, DTMF, its BYE."""
    inbox = Inbox()
    phone = SipPhone(direct_account(free_port()), register=False, on_incoming=inbox)
    source = noise(30, seed=21)
    async with started(phone), baresip_peer(source) as peer:
        await peer.command("dial", uri(phone, "4455"))
        incoming = await inbox.next(within=10)
        assert incoming.called_user == "4455"
        incoming.early_media()
        await incoming.play(noise(0.4, seed=1))
        await incoming.answer()
        await peer.wait_event("CALL_ESTABLISHED")
        got: list[Pcm] = []

        async def record() -> None:
            async for frame in incoming.frames():
                got.append(frame)  # noqa: PERF401 - read while the call goes on

        recorder = asyncio.create_task(record())
        prompt = noise(2.0, seed=33)
        await incoming.play(prompt)
        await peer.command("sndcode", "5")  # baresip sends it as RFC 4733
        assert await asyncio.wait_for(incoming.dtmf_received.get(), 5) == "5"
        await incoming.send_dtmf("9")
        await peer.wait_event("CALL_DTMF_START", within=5)
        assert "9" in peer.dtmf()
        await peer.command("hangup")
        end = await asyncio.wait_for(incoming.ended, 5)
        assert end.cause is EndCause.REMOTE_HANGUP
        await recorder
        heard_level = rms(got[-50:])
        assert heard_level > LEVEL_FLOOR  # baresip's microphone (noise) reached us
        await peer.wait_event("CALL_CLOSED")
        await asyncio.sleep(0.3)
        correlation, _ = best_alignment(read_wav(peer.recordings()[-1]), prompt)
        assert correlation > 0.99  # G.711 both ways, nothing lost on loopback


async def test_call_through_kamailio(registrar: Registrar) -> None:
    """bob dials alice through the registrar/proxy: auth, Record-Route, answer and BYE."""
    inbox = Inbox()
    alice = SipPhone(
        make_account(registrar.host, registrar.port, "alice", "correct-horse"), on_incoming=inbox
    )
    bob = SipPhone(make_account(registrar.host, registrar.port, "bob", "builder"))
    async with started(alice), started(bob):
        call = await bob.dial("alice")
        incoming = await inbox.next(within=10)
        assert incoming.dialog.route_set, "Kamailio record-routes"
        incoming.ring()
        await incoming.answer()
        await call.wait_answered()
        await call.send_dtmf("4")
        assert await asyncio.wait_for(incoming.dtmf_received.get(), 3) == "4"
        await incoming.hangup()  # BYE goes through the proxy's route
        assert (await asyncio.wait_for(call.ended, 5)).cause is EndCause.REMOTE_HANGUP


async def test_call_over_tcp_through_kamailio(registrar: Registrar) -> None:
    """alice registered over TCP gets her call on that connection and answers it."""
    inbox = Inbox()
    alice = SipPhone(
        make_account(registrar.host, registrar.port, "alice", "correct-horse", transport=Transport.TCP),
        on_incoming=inbox,
    )
    bob = SipPhone(make_account(registrar.host, registrar.port, "bob", "builder"))
    async with started(alice), started(bob):
        call = await bob.dial("alice")
        incoming = await inbox.next(within=10)
        await incoming.answer()
        await call.wait_answered()
        await incoming.hangup()
        assert (await asyncio.wait_for(call.ended, 5)).cause is EndCause.REMOTE_HANGUP
