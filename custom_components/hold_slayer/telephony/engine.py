"""The only module that imports the SIP library (rfcvoip, the maintained pyVoIP successor).

It wraps one ``rfcvoip`` phone and applies the workarounds the pinned version needs. Everything
here is blocking and runs in threads that :mod:`.phone` owns; nothing here knows asyncio.

Workarounds for rfcvoip 2.10.3 (see ``docs/sip-engine.md``):

* ``STDOUT_DEBUG``: the library prints to stdout even with ``DEBUG = False``; its ``debug``
  hook is routed to :mod:`logging` with SIP auth headers redacted.
* ``RECV_THREAD_DEATH``: one malformed datagram (e.g. a BYE without Call-ID) raises out of
  ``SIPClient.recv`` and silently kills the receive thread; we catch and drop it.
* ``DETERMINISTIC_CALL_ID``: Call-IDs are ``sha256(counter)``, identical in every process, so a
  redial after a restart is swallowed as a retransmission; we use random ones.
* ``START_ALWAYS_REGISTERS``: ``start()`` always registers, retries forever in its own thread and
  stops itself after three failures; we open the transport and run REGISTER ourselves.
"""

from __future__ import annotations

import errno
import functools
import logging
import re
import socket
import ssl
import threading
import uuid
from collections.abc import Callable
from typing import Any, Final

import rfcvoip
import rfcvoip.SIP
import rfcvoip.VoIP.VoIP
from rfcvoip._version import __version__ as rfcvoip_version
from rfcvoip.SIP import SIPStatus
from rfcvoip.SIPAuth import redact_sensitive_sip_headers
from rfcvoip.SIPTransport import SIPConnection
from rfcvoip.VoIP import VoIPPhone

from .account import SipAccount
from .errors import (
    SipAuthError,
    SipCertificateError,
    SipConfigError,
    SipConnectionError,
    SipRejectedError,
    SipTimeoutError,
)

_LOGGER = logging.getLogger(__name__)

LIBRARY_VERSION: Final = rfcvoip_version
RECV_THREAD_JOIN_TIMEOUT: Final = 2.0
# Statuses that mean "these credentials or this user are wrong" on REGISTER.
AUTH_FAILURES: Final = frozenset({401, 403, 404, 407})


def _library_debug(message: Any, error: Any = None) -> None:
    """STDOUT_DEBUG: the library's ``debug()`` hook, sent to logging instead of stdout."""
    text = error if error is not None else message
    if _LOGGER.isEnabledFor(logging.DEBUG):
        _LOGGER.debug("rfcvoip: %s", redact_sensitive_sip_headers(str(text)))


def _install_logging_shim() -> None:
    # Modules bind ``debug`` at import time, so every binding is replaced.
    for module in (rfcvoip, rfcvoip.SIP, rfcvoip.VoIP.VoIP):
        module.debug = _library_debug  # type: ignore[attr-defined]


_install_logging_shim()


def _safe_recv(original: Callable[[], None]) -> None:
    """RECV_THREAD_DEATH: let socket errors through (the loop needs them), drop the rest."""
    try:
        original()
    except OSError:
        raise
    except Exception:  # noqa: BLE001 - a hostile datagram must never kill the thread
        _LOGGER.debug("Dropped a SIP datagram the library could not handle", exc_info=True)


def local_address_for(host: str, port: int) -> str:
    """The local IP address the kernel would use to reach ``host`` (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as err:
        raise SipConnectionError(f"cannot resolve {host!r}: {err}") from err
    address = infos[0][4][0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, port))
        except OSError as err:
            raise SipConnectionError(f"no route to {host}: {err}") from err
        return str(probe.getsockname()[0])


class SipEngine:
    """One rfcvoip phone: transport, REGISTER transactions and the SIP receive thread."""

    def __init__(self, account: SipAccount, *, expires: int, transaction_timeout: float) -> None:
        self.account = account
        self.expires = expires
        self.transaction_timeout = transaction_timeout
        self._phone: VoIPPhone | None = None
        self._recv_thread: threading.Thread | None = None
        self.local_ip: str | None = None
        self.local_port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Bind the first free local SIP port of the account's range and start receiving."""
        account = self.account
        target_host = account.outbound_proxy or account.registrar
        target_port = account.outbound_proxy_port or account.port
        self.local_ip = local_address_for(target_host, target_port)
        last_error: OSError | None = None
        for port in account.sip_ports.ports():
            try:
                phone = self._make_phone(port)
            except ValueError as err:
                raise SipConfigError(str(err)) from err
            try:
                self._open_transport(phone)
            except OSError as err:
                if err.errno != errno.EADDRINUSE:
                    raise _connection_error(err) from err
                last_error = err  # port in use: try the next one
                continue
            self._phone = phone
            self.local_port = port
            break
        else:
            raise SipConfigError(f"no free local SIP port in {account.sip_ports}: {last_error}")
        thread = threading.Thread(
            target=phone.sip.recv_loop,
            name=f"hold_slayer SIP receive {account.aor}",
            daemon=True,
        )
        self._recv_thread = thread
        thread.start()

    def _make_phone(self, sip_port: int) -> VoIPPhone:
        account = self.account
        phone = VoIPPhone(
            account.registrar,
            account.port,
            account.username,
            account.password,
            myIP=self.local_ip,
            sipPort=sip_port,
            rtpPortLow=account.rtp_ports.low,
            rtpPortHigh=account.rtp_ports.high,
            auth_username=account.auth_username or None,
            proxy=account.outbound_proxy or None,
            proxyPort=account.outbound_proxy_port,
            transport=account.transport.value,
            audio_bit_depth=16,
            audio_sample_rate=8000,
            audio_channels=1,
        )
        sip = phone.sip
        sip.default_expires = self.expires
        sip.register_timeout = self.transaction_timeout
        # DETERMINISTIC_CALL_ID
        sip.gen_call_id = lambda: f"{uuid.uuid4().hex}@{self.local_ip}"
        # RECV_THREAD_DEATH
        sip.recv = functools.partial(_safe_recv, sip.recv)
        return phone

    @staticmethod
    def _open_transport(phone: VoIPPhone) -> None:
        """START_ALWAYS_REGISTERS: what ``SIPClient.start`` does, minus REGISTER and its thread."""
        sip = phone.sip
        connection = SIPConnection(
            sip.myIP,
            sip.myPort,
            sip.proxy_target or sip.server_target,
            tls_context=sip.tls_context,
            tls_server_name=sip.tls_server_name,
        )
        connection.open()
        sip.connection = connection
        sip.s = sip.out = connection.socket
        sip.NSD = True
        phone.NSD = True

    def close(self) -> None:
        """Stop the phone, close its sockets and join the receive thread."""
        phone, self._phone = self._phone, None
        if phone is not None:
            try:
                phone.stop()
            except Exception:  # noqa: BLE001 - closing must always finish
                _LOGGER.debug("Error while stopping the SIP phone", exc_info=True)
        thread, self._recv_thread = self._recv_thread, None
        if thread is not None:
            thread.join(RECV_THREAD_JOIN_TIMEOUT)
            if thread.is_alive():  # pragma: no cover - the loop polls every 10 ms
                _LOGGER.warning("SIP receive thread did not stop in time")

    @property
    def threads(self) -> list[threading.Thread]:
        """Threads this engine started and has not joined yet."""
        return [t for t in (self._recv_thread,) if t is not None and t.is_alive()]

    # -- registration ------------------------------------------------------------------------

    def register(self, *, deregister: bool = False, timeout: float | None = None) -> int:
        """Run one REGISTER transaction (with digest auth) and return the granted expiry.

        Raises a :class:`SipError` subclass on failure.
        """
        phone = self._phone
        if phone is None:
            raise SipConnectionError("SIP transport is not open")
        sip = phone.sip
        sip.register_timeout = timeout or self.transaction_timeout
        try:
            with sip.recvLock:
                response = sip._send_register_request(
                    sip.gen_first_response(deregister=deregister), action="Registering"
                )
                if response.status in (
                    SIPStatus.UNAUTHORIZED,
                    SIPStatus.PROXY_AUTHENTICATION_REQUIRED,
                ):
                    response = sip._send_register_request(
                        sip.gen_register(response, deregister=deregister), action="Registering"
                    )
        except TimeoutError as err:
            raise SipTimeoutError(f"no answer to REGISTER within {sip.register_timeout} s") from err
        except OSError as err:
            raise _connection_error(err) from err
        except rfcvoip.SIP.SIPParseError as err:
            raise SipRejectedError(0, f"unusable authentication challenge: {err}") from err
        status = int(response.status)
        if status == 200:
            return 0 if deregister else granted_expires(response.raw, self.expires)
        reason = str(response.status.phrase)
        if status in AUTH_FAILURES:
            raise SipAuthError(f"{status} {reason}")
        raise SipRejectedError(status, reason)


_EXPIRES_PARAM = re.compile(rb"^(?:Contact|m):[^\r\n]*;\s*expires=(\d+)", re.I | re.M)
_EXPIRES_HEADER = re.compile(rb"^Expires:\s*(\d+)", re.I | re.M)


def granted_expires(raw: bytes, requested: int) -> int:
    """The registration lifetime the registrar granted in its 200 OK (RFC 3261 10.2.4)."""
    for pattern in (_EXPIRES_PARAM, _EXPIRES_HEADER):
        if match := pattern.search(raw):
            return int(match.group(1))
    return requested


def _connection_error(err: OSError) -> SipConnectionError | SipTimeoutError:
    if isinstance(err, TimeoutError):
        return SipTimeoutError(str(err))
    if isinstance(err, ssl.SSLCertVerificationError):
        return SipCertificateError(err.verify_message or str(err))
    return SipConnectionError(f"{type(err).__name__}: {err}")
