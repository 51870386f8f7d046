"""SipPhone and SipEngine against real Kamailio registrars, plus the pure helpers."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from unittest.mock import patch

import pytest

from custom_components.hold_slayer.telephony import (
    PortRange,
    RegistrationState,
    RegistrationStatus,
    SipAccount,
    SipAuthError,
    SipCertificateError,
    SipConfigError,
    SipConnectionError,
    SipPhone,
    SipRejectedError,
    SipTimeoutError,
    Transport,
    probe_registration,
)
from custom_components.hold_slayer.telephony.engine import SipEngine, granted_expires
from custom_components.hold_slayer.telephony.phone import refresh_delay, retry_delay
from tests.servers.certs import ServerCertificates, make_certificates
from tests.servers.kamailio import Registrar, free_port, run_registrar

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _account(
    registrar: Registrar,
    user: str = "alice",
    password: str = "correct-horse",  # noqa: S107 - the test registrar's account
    **kw: object,
) -> SipAccount:
    low = free_port(30000, 39000)
    return SipAccount(
        registrar.host,
        user,
        password,
        port=registrar.port,
        sip_ports=PortRange(low, low + 5),
        rtp_ports=PortRange(40000, 40099),
        **kw,  # type: ignore[arg-type]
    )


def _closed(registrar: Registrar) -> Registrar:
    """The same host on a port nothing listens on."""
    return Registrar(registrar.host, free_port(), registrar.users)


class StatusRecorder:
    """Collects a phone's status changes and lets a test wait for one."""

    def __init__(self, phone: SipPhone) -> None:
        self.seen: list[RegistrationStatus] = []
        self._changed = asyncio.Event()
        phone.async_listen(self._on_status)

    def _on_status(self, status: RegistrationStatus) -> None:
        self.seen.append(status)
        self._changed.set()

    async def wait_for(self, state: RegistrationState, within: float = 10.0) -> RegistrationStatus:
        async with asyncio.timeout(within):
            while True:
                for status in self.seen:
                    if status.state is state:
                        self.seen.clear()
                        return status
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def restartable_registrar() -> Iterator[tuple[ExitStack, int]]:
    """A port for registrars a test starts and stops itself."""
    with ExitStack() as stack:
        yield stack, free_port()


def test_refresh_and_retry_delays() -> None:
    """Refresh well before expiry, never faster than the floor; back off exponentially to a cap."""
    assert refresh_delay(600) == 540
    assert refresh_delay(60) == 30
    assert refresh_delay(2, floor=0.5) == 1
    assert refresh_delay(2) == 5
    assert [retry_delay(n, 5, 300) for n in (1, 2, 3, 7, 8, 20)] == [5, 10, 20, 300, 300, 300]


def test_granted_expires() -> None:
    """The registrar's granted lifetime wins over the one we asked for."""
    assert granted_expires(b"SIP/2.0 200 OK\r\nContact: <sip:a@1.2.3.4:5060>;expires=117\r\n\r\n", 600) == 117
    assert granted_expires(b"SIP/2.0 200 OK\r\nm: <sip:a@h>;q=0.5;Expires=30\r\n\r\n", 600) == 30
    assert granted_expires(b"SIP/2.0 200 OK\r\nExpires: 45\r\n\r\n", 600) == 45
    assert granted_expires(b"SIP/2.0 200 OK\r\n\r\n", 600) == 600


async def test_start_stop_threads_and_deregister(registrar: Registrar) -> None:
    """Start registers and starts two named threads; stop deregisters and joins them."""
    phone = SipPhone(_account(registrar))
    recorder = StatusRecorder(phone)
    await phone.start()
    assert phone.status.state is RegistrationState.REGISTERED
    assert phone.status.expires == 600
    assert sorted(t.name for t in phone.threads) == [
        "hold_slayer SIP receive alice@127.0.0.1",
        "hold_slayer SIP register alice@127.0.0.1",
    ]
    await phone.stop()
    assert phone.threads == []
    assert phone.status.state is RegistrationState.UNREGISTERED
    assert [s.state for s in recorder.seen] == ["registering", "registered", "unregistered"]


async def test_reregisters_after_registrar_outage(restartable_registrar: tuple[ExitStack, int]) -> None:
    """Refreshes keep the binding; an outage is reported and healed with backoff."""
    stack, port = restartable_registrar
    users = {"alice": "correct-horse"}
    first = run_registrar(users, port)
    registrar = first.__enter__()
    phone = SipPhone(_account(registrar), expires=2, transaction_timeout=0.5)
    phone.refresh_floor = 0.2
    phone.retry_first = 0.2
    phone.retry_max = 0.5
    recorder = StatusRecorder(phone)
    try:
        await phone.start()
        assert phone.status.expires == 2
        first.__exit__(None, None, None)
        failed = await recorder.wait_for(RegistrationState.FAILED)
        assert failed.error is not None
        assert "no answer" in failed.error
        stack.enter_context(run_registrar(users, port))
        restored = await recorder.wait_for(RegistrationState.REGISTERED)
        assert restored.expires == 2
    finally:
        await phone.stop()
    assert phone.threads == []


async def test_password_change_on_server_is_auth_failed(restartable_registrar: tuple[ExitStack, int]) -> None:
    """When the registrar stops accepting the password, the status says so (HA then reauths)."""
    stack, port = restartable_registrar
    first = run_registrar({"alice": "correct-horse"}, port)
    registrar = first.__enter__()
    phone = SipPhone(_account(registrar), expires=2, transaction_timeout=0.5)
    phone.refresh_floor = 0.2
    phone.retry_first = 0.2
    recorder = StatusRecorder(phone)
    try:
        await phone.start()
        first.__exit__(None, None, None)
        stack.enter_context(run_registrar({"alice": "rotated"}, port))
        status = await recorder.wait_for(RegistrationState.AUTH_FAILED)
        assert status.error == "401 Unauthorized"
    finally:
        await phone.stop()


async def test_failed_start_leaves_nothing_running(registrar: Registrar) -> None:
    """A failed first registration raises, reports the state and joins the receive thread."""
    phone = SipPhone(_account(registrar, password="wrong"))
    with pytest.raises(SipAuthError):
        await phone.start()
    assert phone.status.state is RegistrationState.AUTH_FAILED
    assert phone.threads == []
    phone = SipPhone(_account(_closed(registrar)), transaction_timeout=0.3)
    with pytest.raises(SipTimeoutError):
        await phone.start()
    assert phone.status.state is RegistrationState.FAILED
    assert phone.threads == []


async def test_probe_errors(registrar: Registrar) -> None:
    """The config flow's probe classifies each failure."""
    await probe_registration(_account(registrar), answer_within=1)
    await probe_registration(_account(registrar, "bob", "builder", transport=Transport.TCP), answer_within=1)
    with pytest.raises(SipAuthError):
        await probe_registration(_account(registrar, password="nope"), answer_within=1)
    with pytest.raises(SipTimeoutError):
        await probe_registration(_account(_closed(registrar)), answer_within=0.3)
    with pytest.raises(SipConnectionError):
        await probe_registration(_account(_closed(registrar), transport=Transport.TCP), answer_within=1)
    with pytest.raises(SipConnectionError):
        await probe_registration(_account(Registrar("bad host", 5060, {})), answer_within=1)
    taken = SipAccount(
        registrar.host, "alice", "x", port=registrar.port, sip_ports=PortRange(registrar.port, registrar.port)
    )
    with pytest.raises(SipConfigError):
        await probe_registration(taken, answer_within=1)


async def test_registrar_error_status_is_rejected(registrar: Registrar) -> None:
    """A non-auth final answer keeps its status code (here: Kamailio's 400 for a malformed Expires)."""
    engine = SipEngine(_account(registrar), expires=-1, transaction_timeout=1)
    try:
        await asyncio.to_thread(engine.open)
        with pytest.raises(SipRejectedError) as err:
            await asyncio.to_thread(engine.register)
        assert err.value.status >= 400
    finally:
        await asyncio.to_thread(engine.close)


async def test_register_before_open_fails() -> None:
    """Registering without a transport is a connection error, not a crash."""
    engine = SipEngine(SipAccount("127.0.0.1", "a", "b"), expires=60, transaction_timeout=1)
    with pytest.raises(SipConnectionError):
        engine.register()
    engine.close()  # closing an engine that never opened is fine


async def test_malformed_datagram_does_not_kill_receive_thread(
    registrar: Registrar, caplog: pytest.LogCaptureFixture
) -> None:
    """RECV_THREAD_DEATH: a BYE without Call-ID used to kill the library's receive thread."""
    account = _account(registrar)
    engine = SipEngine(account, expires=60, transaction_timeout=1)
    await asyncio.to_thread(engine.open)
    try:
        assert engine.local_port is not None
        target = ("127.0.0.1", engine.local_port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.settimeout(3)
            host, port = peer.getsockname()
            via = f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bKfuzz"
            caplog.set_level(logging.DEBUG, logger="custom_components.hold_slayer.telephony.engine")
            peer.sendto(f"BYE sip:x@127.0.0.1 SIP/2.0\r\n{via}\r\nCSeq: 1 BYE\r\n\r\n".encode(), target)
            await asyncio.sleep(0.3)  # the receive loop polls every 10 ms
            assert engine.threads, "receive thread died"
            options = (
                f"OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\n{via}2\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\n"
                "To: <sip:alice@127.0.0.1>\r\nCall-ID: probe-1\r\nCSeq: 2 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            peer.sendto(options.encode(), target)
            reply = await asyncio.to_thread(peer.recv, 4096)
        assert reply.startswith(b"SIP/2.0 200")
        assert "Dropped a SIP datagram" in caplog.text
    finally:
        await asyncio.to_thread(engine.close)
    assert engine.threads == []


def test_library_stdout_goes_to_logging(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """STDOUT_DEBUG: the library's debug hook logs (redacted) instead of printing."""
    import rfcvoip

    caplog.set_level(logging.DEBUG, logger="custom_components.hold_slayer.telephony.engine")
    rfcvoip.debug("REGISTER", 'Authorization: Digest username="alice", response="abc"')
    assert capsys.readouterr().out == ""
    assert "rfcvoip:" in caplog.text
    assert 'response="abc"' not in caplog.text


def test_call_ids_are_unique_per_process(registrar: Registrar) -> None:
    """DETERMINISTIC_CALL_ID: two fresh phones no longer start with the same Call-ID."""
    engines = [SipEngine(_account(registrar), expires=60, transaction_timeout=1) for _ in range(2)]
    ids = set()
    for engine in engines:
        engine.open()
        try:
            assert engine._phone is not None
            ids.add(engine._phone.sip.gen_call_id())
        finally:
            engine.close()
    assert len(ids) == 2


def test_threads_are_joined_within_a_second(registrar: Registrar) -> None:
    """close() returns only after the receive thread ended."""
    engine = SipEngine(_account(registrar), expires=60, transaction_timeout=1)
    engine.open()
    (thread,) = engine.threads
    started = time.monotonic()
    engine.close()
    assert not thread.is_alive()
    assert time.monotonic() - started < 1.0
    assert not [t for t in threading.enumerate() if t.name.startswith("hold_slayer")]


def test_bad_rtp_range_is_config_error(registrar: Registrar) -> None:
    """Settings the library refuses surface as SipConfigError."""
    engine = SipEngine(_account(registrar), expires=60, transaction_timeout=1)
    with (
        patch("custom_components.hold_slayer.telephony.engine.VoIPPhone", side_effect=ValueError("bad")),
        pytest.raises(SipConfigError),
    ):
        engine.open()


@pytest.fixture
def certs(tmp_path: Path) -> ServerCertificates:
    """A CA and a 127.0.0.1 server certificate."""
    return make_certificates(tmp_path)


async def test_tls_registration(certs: ServerCertificates, monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS: the registrar's certificate is verified against the trusted CAs (here: our test CA)."""
    with run_registrar({"alice": "correct-horse"}, tls=(certs.cert, certs.key)) as registrar:
        assert registrar.tls_port is not None
        tls_registrar = Registrar(registrar.host, registrar.tls_port, registrar.users)
        account = _account(tls_registrar, transport=Transport.TLS)
        with pytest.raises(SipCertificateError, match="unable to get local issuer certificate"):
            await probe_registration(account, answer_within=2)
        monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
        await probe_registration(account, answer_within=2)
        with pytest.raises(SipAuthError):
            await probe_registration(_account(tls_registrar, password="nope", transport=Transport.TLS))
