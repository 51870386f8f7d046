"""SipPhone and SipEngine against real Kamailio registrars, plus the pure helpers."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

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
from custom_components.hold_slayer.telephony.phone import granted_expires, refresh_delay, retry_delay
from custom_components.hold_slayer.telephony.sipmsg import SipMessage
from harness.servers.certs import ServerCertificates, make_certificates
from harness.servers.kamailio import Registrar, free_port, run_registrar

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


def _ok(contacts: str) -> SipMessage:
    head = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
    head += "To: <sip:a@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"
    return SipMessage.parse((head + contacts + "\r\n").encode())


def test_granted_expires() -> None:
    """The registrar's granted lifetime wins over the one we asked for; our own Contact first."""
    ours = "<sip:a@10.0.0.2:5060>"
    assert granted_expires(_ok("Contact: <sip:a@1.2.3.4:5060>;expires=117\r\n"), 600, ours) == 117
    both = "Contact: <sip:a@10.9.9.9>;expires=3000, <sip:a@10.0.0.2:5060>;expires=30\r\n"
    assert granted_expires(_ok(both), 600, ours) == 30
    assert granted_expires(_ok("m: <sip:a@h>;q=0.5;Expires=31\r\n"), 600) == 31
    assert granted_expires(_ok("Expires: 45\r\n"), 600) == 45
    assert granted_expires(_ok(""), 600) == 600


async def test_start_stop_without_threads_and_deregister(registrar: Registrar) -> None:
    """Start registers on the event loop (no threads); stop deregisters and closes everything."""
    before = set(threading.enumerate())
    phone = SipPhone(_account(registrar))
    recorder = StatusRecorder(phone)
    await phone.start()
    assert phone.status.state is RegistrationState.REGISTERED
    assert phone.status.expires == 600
    assert set(threading.enumerate()) - before <= _executor_threads()
    await phone.stop()
    assert phone.status.state is RegistrationState.UNREGISTERED
    assert [s.state for s in recorder.seen] == ["registering", "registered", "unregistered"]
    await phone.stop()  # idempotent


def _executor_threads() -> set[threading.Thread]:
    """The default executor's workers (DNS and route lookups run there)."""
    return {t for t in threading.enumerate() if t.name.startswith("asyncio_")}


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
        assert "no final response to REGISTER" in failed.error
        stack.enter_context(run_registrar(users, port))
        restored = await recorder.wait_for(RegistrationState.REGISTERED)
        assert restored.expires == 2
    finally:
        await phone.stop()


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


async def test_failed_start_raises_and_reports(registrar: Registrar) -> None:
    """A failed first registration raises the classified error and reports the state."""
    phone = SipPhone(_account(registrar, password="wrong"))
    with pytest.raises(SipAuthError):
        await phone.start()
    assert phone.status.state is RegistrationState.AUTH_FAILED
    phone = SipPhone(_account(_closed(registrar)), transaction_timeout=0.3)
    with pytest.raises(SipTimeoutError):
        await phone.start()
    assert phone.status.state is RegistrationState.FAILED
    await phone.stop()


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
    """A non-auth final answer keeps its status code (Kamailio answers 400 to Expires: -1)."""
    phone = SipPhone(_account(registrar), expires=-1, transaction_timeout=1)
    with pytest.raises(SipRejectedError) as err:
        await phone.start()
    assert err.value.status == 400


async def test_dial_before_start_fails() -> None:
    """Dialling on a phone that is not started is a connection error, not a crash."""
    phone = SipPhone(SipAccount("127.0.0.1", "a", "b"))
    with pytest.raises(SipConnectionError):
        await phone.dial("100")


async def test_malformed_datagrams_are_dropped(registrar: Registrar) -> None:
    """A BYE without Call-ID (it killed rfcvoip's receive thread) is dropped; OPTIONS still work."""
    phone = SipPhone(_account(registrar))
    await phone.start()
    try:
        target = ("127.0.0.1", phone.transport.local_port or 0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.settimeout(3)
            host, port = peer.getsockname()
            via = f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bKfuzz"
            peer.sendto(f"BYE sip:x@127.0.0.1 SIP/2.0\r\n{via}\r\nCSeq: 1 BYE\r\n\r\n".encode(), target)
            peer.sendto(b"\xff\xfe garbage", target)
            options = (
                f"OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\n{via}2\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\n"
                "To: <sip:alice@127.0.0.1>\r\nCall-ID: probe-1\r\nCSeq: 2 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            peer.sendto(options.encode(), target)
            reply = await asyncio.to_thread(peer.recv, 4096)
        assert reply.startswith(b"SIP/2.0 200")
        assert phone.transport.dropped == 2
    finally:
        await phone.stop()


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
