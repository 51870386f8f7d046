"""``SipPhone``: one SIP account on the asyncio event loop — registration, calls, routing.

No threads: the SIP socket, every transaction timer and every call's media clock run as
asyncio callbacks and tasks owned by this object, and :meth:`SipPhone.stop` ends all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from . import sdp
from .account import DEFAULT_PORTS, KeepaliveMethod, SipAccount, Transport
from .auth import LIBRARY_VERSION, authorization
from .call import Call, CallLeg, CallState
from .dialog import Dialog
from .errors import (
    SipAuthError,
    SipConfigError,
    SipConnectionError,
    SipError,
    SipRejectedError,
    SipStunError,
    SipTimeoutError,
)
from .incoming import IncomingCall, without_tag
from .resolver import ServerTarget, SipResolver, is_ip
from .rtp import MediaClock, MediaStream
from .session_timer import too_brief
from .sipmsg import (
    SipMessage,
    SipParseError,
    SipUri,
    new_branch,
    new_call_id,
    new_tag,
    params_of,
    request,
    response_to,
    uri_of,
)
from .stun import StunClient
from .transaction import TIMER_C, TIMER_F
from .transaction_layer import TransactionLayer
from .transport import Address, SipTransport

_LOGGER = logging.getLogger(__name__)

DEFAULT_EXPIRES: Final = 600
DEFAULT_TRANSACTION_TIMEOUT: Final = 10.0
DEREGISTER_TIMEOUT: Final = 2.0
RETRY_FIRST: Final = 5.0
RETRY_MAX: Final = 300.0
REFRESH_FLOOR: Final = 5.0
HANGUP_ON_STOP_TIMEOUT: Final = 3.0
RECENT_DIALLED: Final = 64  # Call-IDs of our INVITEs kept to end answers that come after the call
# Headers a request answered 401/407 gets anew when it is sent again with credentials.
_REBUILT_ON_RETRY: Final = frozenset(
    {"Via", "CSeq", "Authorization", "Proxy-Authorization", "Content-Length"}
)
UNWANTED_BYE_TIMEOUT: Final = 4.0  # seconds a BYE to an answer nobody wanted may take
KEEPALIVE_JITTER: Final = 0.85
STUN_REFRESH: Final = 300.0  # seconds between a trunk's STUN checks that its public address holds
HOP_KEPT: Final = 300.0  # seconds a host name found inside a dialog is used before it is looked up again
HOPS_KEPT: Final = 64  # host names kept at most
AUTH_FAILURES: Final = frozenset({401, 403, 404, 407})
ALLOW: Final = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER, UPDATE"
# Extensions a request to us may require (RFC 3261 §8.2.2.3): session timers. Not 100rel: we
# send no reliable provisional responses.
UAS_EXTENSIONS: Final = frozenset({"timer"})
USER_AGENT: Final = f"Hold Slayer (rfcvoip {LIBRARY_VERSION} digest)"


class RegistrationState(StrEnum):
    """Where the account stands with its registrar."""

    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"
    AUTH_FAILED = "auth_failed"
    DIRECT = "direct"  # no registrar: calls go straight to a peer


@dataclass(frozen=True, slots=True)
class RegistrationStatus:
    """A snapshot for listeners: state, the last error in words, and when it changed."""

    state: RegistrationState
    error: str | None = None
    expires: int | None = None
    changed_at: float = 0.0


def refresh_delay(granted: int, floor: float = REFRESH_FLOOR) -> float:
    """Seconds until re-REGISTER: well before the binding expires, never in a tight loop."""
    return max(floor, granted * 0.5, granted - 60.0)


def retry_delay(failures: int, first: float = RETRY_FIRST, cap: float = RETRY_MAX) -> float:
    """Exponential backoff after ``failures`` consecutive failed registrations."""
    return float(min(cap, first * 2 ** max(0, failures - 1)))


def granted_expires(response: SipMessage, requested: int, contact: str = "") -> int:
    """The lifetime the registrar granted (RFC 3261 §10.2.4).

    Other devices may share the address of record, so our own Contact's ``expires`` wins, then
    the first Contact's, then the Expires header.
    """
    ours = uri_of(contact)
    contacts = sorted(response.header_values("contact"), key=lambda value: uri_of(value) != ours)
    for value in contacts:
        expires = params_of(value).get("expires")
        if expires and expires.isdigit():
            return int(expires)
    expires = response.header("expires")
    return int(expires) if expires and expires.isdigit() else requested


def min_expires(response: SipMessage) -> int:
    """A 423's ``Min-Expires`` in seconds (0 when missing or malformed)."""
    value = (response.header("Min-Expires") or "").strip()
    return int(value) if value.isdigit() else 0


def retry_after(response: SipMessage) -> float | None:
    """A response's ``Retry-After`` in seconds (RFC 3261 §20.33; None when missing or malformed)."""
    value = (response.header("Retry-After") or "").split(";")[0].split("(")[0].strip()
    return float(value) if value.isdigit() else None


def reported_address(response: SipMessage) -> Address | None:
    """Where the server saw our request come from: ``received``/``rport`` of the top Via (RFC 3581).

    ``None`` when the server reports neither (it does not support RFC 3581) or reports junk.
    """
    vias = response.header_values("via")
    if not vias:
        return None
    params = params_of(vias[0])
    received, rport = params.get("received"), params.get("rport")
    if received is None and rport is None:
        return None
    sent_by = vias[0].split(";", 1)[0].split()[-1] if vias[0].split() else ""
    host, _, port_text = sent_by.rpartition(":") if ":" in sent_by else (sent_by, "", "")
    if received is not None:
        if not is_ip(received):
            return None
        host = received
    if rport is not None:
        if not rport.isdigit() or not 0 < int(rport) < 65536:
            return None
        port_text = rport
    if not is_ip(host) or not port_text.isdigit():
        return None
    return (host, int(port_text))


def unsupported_extensions(req: SipMessage) -> list[str]:
    """The option tags ``req`` requires that we do not support, in its order (RFC 3261 §8.2.2.3)."""
    required = [tag.strip().lower() for tag in req.header_values("Require") if tag.strip()]
    return [tag for tag in dict.fromkeys(required) if tag not in UAS_EXTENSIONS]


def _server_unavailable(err: SipError) -> bool:
    """Whether another of the domain's servers may serve: no answer, no route, or 503."""
    if isinstance(err, SipRejectedError):
        return err.status == 503
    return isinstance(err, SipTimeoutError | SipConnectionError)


def local_address_for(host: str, port: int) -> str:
    """The local IPv4 address the kernel would use to reach ``host`` (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as err:
        raise SipConnectionError(f"cannot resolve {host!r}: {err}") from err
    address = str(infos[0][4][0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, port))
        except OSError as err:
            raise SipConnectionError(f"no route to {host}: {err}") from err
        return str(probe.getsockname()[0])


class SipPhone:
    """One SIP account: registers (or not, for a direct peer), dials, routes what arrives."""

    # Timing knobs as attributes so tests can shorten them.
    retry_first: float = RETRY_FIRST
    retry_max: float = RETRY_MAX
    refresh_floor: float = REFRESH_FLOOR
    # Requests inside a dialog wait as long as RFC 3261 allows: a non-INVITE for Timer F; a
    # re-INVITE (a session refresh through a B2BUA that asks the other leg first) for Timer C
    # once something came, and Timer B when nothing at all does. ``transaction_timeout`` is
    # for registration and pings, where the user waits for the answer.
    dialog_timeout: float = TIMER_F
    reinvite_timeout: float = TIMER_C
    stun_refresh: float = STUN_REFRESH

    def __init__(
        self,
        account: SipAccount,
        *,
        register: bool = True,
        expires: int = DEFAULT_EXPIRES,
        transaction_timeout: float = DEFAULT_TRANSACTION_TIMEOUT,
        on_incoming: Callable[[IncomingCall], None] | None = None,
        bind_host: str = "0.0.0.0",
    ) -> None:
        self.account = account
        # The account's NAT settings, as attributes so tests can shorten the keep-alive.
        self.keepalive_interval = account.keepalive_interval
        self.keepalive_method = account.keepalive_method
        # SRTP (SDES) offered in our INVITEs: on TLS accounts, whose signalling keeps the keys
        # secret; plain RTP elsewhere. Offers of SRTP to us are answered on any account.
        self.secure_media = account.transport is Transport.TLS
        self.rewrite_contact = account.rewrite_contact
        # Who decides about calls placed to us; without one every INVITE is refused with 486.
        self.on_incoming = on_incoming
        self.register_enabled = register
        self.expires = expires
        self.transaction_timeout = transaction_timeout
        self.local_ip = "0.0.0.0"
        self.bind_host = bind_host  # the local address SIP and RTP sockets bind (all by default)
        self.stun = StunClient(self._send_stun)
        self.transport = SipTransport(
            account.transport, self._on_message, on_stun=self.stun.received, bind_host=bind_host
        )
        self._server: Address = ("0.0.0.0", 0)
        # Where the registrar or proxy is (RFC 3263), in the order to try; tests name a DNS server.
        self.resolver = SipResolver()
        self._targets: list[ServerTarget] = []
        self._target_index = 0
        self._status = RegistrationStatus(RegistrationState.UNREGISTERED)
        self._listeners: list[Callable[[RegistrationStatus], None]] = []
        self.transactions = TransactionLayer(self.transport)
        self._calls: dict[str, CallLeg] = {}
        # Host names of dialogs' next hops (and direct peers) found in DNS: address, until when.
        self._hops: dict[tuple[str, int | None], tuple[Address, float]] = {}
        self._dialled: deque[str] = deque(maxlen=RECENT_DIALLED)  # Call-IDs of our recent INVITEs
        # Work no call owns: BYEs to sessions nobody wanted.
        self._cleanups: set[asyncio.Task[None]] = set()
        self._media_clock = MediaClock()  # one media timer for all calls of this phone
        self._register_task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._stun_task: asyncio.Task[None] | None = None
        # Our address as the registrar (or the STUN server) sees it, when not ours.
        self._public: Address | None = None
        self._public_source: str | None = None  # "registrar" or "stun": who reported _public
        self._registrar_reports = False  # the registrar said where it saw us (RFC 3581)
        self.keepalives_sent = 0
        self._register_call_id = ""
        self._register_cseq = 0
        self._register_tag = new_tag()
        self._failures = 0
        self._registered = False
        self._started = False

    # -- identity -------------------------------------------------------------------------------

    @property
    def domain(self) -> str:
        """The SIP domain: the registrar's host."""
        return self.account.registrar

    @property
    def aor(self) -> str:
        """Our address of record."""
        return f"sip:{self.account.username}@{self.domain}"

    @property
    def from_value(self) -> str:
        """The From value (without tag) of our requests."""
        name = self.account.caller_id
        return f'"{name}" <{self.aor}>' if name else f"<{self.aor}>"

    @property
    def contact(self) -> str:
        """Where the far end reaches us: our address, or the public one the registrar saw."""
        suffix = (
            "" if self.account.transport is Transport.UDP else f";transport={self.account.transport.value}"
        )
        host, port = self._public or (self.local_ip, self.transport.local_port)
        return f"<sip:{self.account.username}@{host}:{port}{suffix}>"

    @property
    def public_address(self) -> Address | None:
        """The public address the registrar or STUN server reported, when it differs from ours (NAT)."""
        return self._public

    @property
    def public_address_source(self) -> str | None:
        """Who reported :attr:`public_address`: ``"registrar"`` (RFC 3581) or ``"stun"``; None without one."""
        return self._public_source if self._public is not None else None

    @property
    def media_address(self) -> str:
        """The address for SDP ``c=``/``o=``: the public IP only when our host is behind NAT.

        The registrar seeing another source IP than ours means this host's address is
        private, and RTP leaves from the same address; a different port alone (``rport``)
        says nothing about media. RTP ports are never rewritten: a home NAT usually keeps them,
        and we send symmetric RTP from the port we receive on, so a far end that latches
        (comedia, what carriers and SBCs do) finds us either way.
        """
        if self._public is not None and self._public[0] != self.local_ip:
            return self._public[0]
        return self.local_ip

    allow = ALLOW
    user_agent = USER_AGENT

    def via(self, branch: str) -> str:
        """A Via value for a new request."""
        sent_by = f"{self.local_ip}:{self.transport.local_port}"
        return f"SIP/2.0/{self.transport.via_transport} {sent_by};branch={branch};rport"

    def initial_route(self) -> list[tuple[str, str]]:
        """The pre-loaded route set: through the outbound proxy when one is configured."""
        if not self.account.outbound_proxy:
            return []
        port = self.account.outbound_proxy_port or DEFAULT_PORTS[self.account.transport]
        return [("Route", f"<sip:{self.account.outbound_proxy}:{port};lr>")]

    def target_uri(self, target: str) -> str:
        """A number or extension → ``sip:number@domain``; SIP URIs are kept."""
        target = target.strip()
        if target.lower().startswith(("sip:", "sips:")):
            SipUri.parse(target)  # validate
            return target
        if not re.fullmatch(r"\+?[0-9A-Za-z*#._-]{1,64}", target):
            raise ValueError(f"not a number or SIP URI: {target!r}")
        return f"sip:{target}@{self._host_port}"

    @property
    def _host_port(self) -> str:
        """The domain, with the account's port where it is not the transport's default."""
        port = "" if self.account.port == DEFAULT_PORTS[self.account.transport] else f":{self.account.port}"
        return f"{self.domain}{port}"

    # -- status ---------------------------------------------------------------------------------

    @property
    def status(self) -> RegistrationStatus:
        """The latest registration status."""
        return self._status

    def async_listen(self, listener: Callable[[RegistrationStatus], None]) -> Callable[[], None]:
        """Call ``listener`` on every status change; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _set_status(
        self, state: RegistrationState, error: str | None = None, expires: int | None = None
    ) -> None:
        old = self._status
        if (old.state, old.error, old.expires) == (state, error, expires):
            return  # a routine refresh: nothing for listeners to record
        self._status = RegistrationStatus(state, error, expires, time.time())
        for listener in list(self._listeners):
            listener(self._status)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the transport and register once; raise the classified :class:`SipError` on failure.

        Afterwards the registration is refreshed before it expires, and re-established with
        exponential backoff after failures, until :meth:`stop`.
        """
        account = self.account
        loop = asyncio.get_running_loop()
        self._set_status(RegistrationState.REGISTERING if self.register_enabled else RegistrationState.DIRECT)
        try:
            self._targets = await self.resolver.locate(*self._server_name(), account.transport)
            granted = await self._first_answering_target()
        except SipError as err:
            state = (
                RegistrationState.AUTH_FAILED if isinstance(err, SipAuthError) else RegistrationState.FAILED
            )
            self._set_status(state, str(err))
            await self.transport.close()
            self._started = False
            raise
        except OSError as err:
            await self.transport.close()
            self._started = False
            raise SipConnectionError(str(err)) from err
        if self.register_enabled:
            self._registered = True
            self._set_status(RegistrationState.REGISTERED, None, granted)
            self._register_task = loop.create_task(
                self._keep_registered(granted), name=f"hold_slayer register {account.aor}"
            )
        if self.keepalive_interval > 0:
            self._keepalive_task = loop.create_task(
                self._keep_alive(), name=f"hold_slayer keep-alive {account.aor}"
            )
        if self._uses_stun and not self.register_enabled:
            # A registered account asks before each refresh (see _keep_registered).
            self._stun_task = loop.create_task(self._keep_public(), name=f"hold_slayer STUN {account.aor}")

    def _server_name(self) -> tuple[str, int]:
        """The registrar's (or outbound proxy's) name and port as configured."""
        account = self.account
        if account.outbound_proxy:
            return account.outbound_proxy, account.outbound_proxy_port or account.port
        return account.registrar, account.port

    async def _first_answering_target(self) -> int:
        """Open the transport to the first target that answers; register there (RFC 3263 §4.3).

        A target that does not answer, cannot be reached or is unavailable (503) hands over to
        the next; any other answer (a refusal, a wrong password) is the server's word.
        """
        last: SipError = SipConnectionError("no SIP server found")
        for index, target in enumerate(self._targets):
            self._target_index = index
            try:
                granted = await self._open_target(target)
            except SipError as err:
                if not _server_unavailable(err):
                    raise
                last = err
            else:
                return granted
            _LOGGER.info(
                "SIP server %s:%d did not serve (%s); trying the next", target.host, target.port, last
            )
            await self.transport.close()
            self._started = False
        raise last

    async def _open_target(self, target: ServerTarget) -> int:
        """Open the transport towards ``target`` and register there (when registering)."""
        loop = asyncio.get_running_loop()
        self.local_ip = await loop.run_in_executor(None, local_address_for, target.address, target.port)
        self._server = (target.address, target.port)
        await self.transport.open(self.account.sip_ports.ports(), (target.host, target.port))
        self._started = True
        self._register_call_id = new_call_id(self.local_ip)
        await self._ask_stun()  # before the first request, so that its Contact is already right
        return await self._register() if self.register_enabled else 0

    async def _fail_over(self) -> None:
        """After a failed refresh: the next target, the domain's records looked up afresh after the last."""
        index = self._target_index + 1
        if index >= len(self._targets):
            with contextlib.suppress(SipConnectionError):
                self._targets = await self.resolver.locate(*self._server_name(), self.account.transport)
            index = 0
        target = self._targets[index]
        self._target_index = index
        if (target.address, target.port) == self._server:
            return  # nowhere else to go
        _LOGGER.info("SIP server fails over to %s:%d", target.host, target.port)
        await self.transport.close()
        self._server = (target.address, target.port)
        await self.transport.open(self.account.sip_ports.ports(), (target.host, target.port))

    async def _keep_registered(self, granted: int) -> None:
        delay = refresh_delay(granted, self.refresh_floor)
        while True:
            await asyncio.sleep(delay)
            try:
                await self.transport.ensure_connected()
                # The registrar's report, once it gives one, is what our requests really come
                # from; STUN only stands in for a registrar that never says.
                stale = None if self._registrar_reports else await self._check_public()
                granted = await self._register(stale_contact=stale)
            except SipError as err:
                self._failures += 1
                delay = retry_delay(self._failures, self.retry_first, self.retry_max)
                if isinstance(err, SipRejectedError) and err.retry_after is not None:
                    delay = max(delay, err.retry_after)  # a 503's Retry-After (RFC 3261 §21.5.4)
                state = (
                    RegistrationState.AUTH_FAILED
                    if isinstance(err, SipAuthError)
                    else RegistrationState.FAILED
                )
                _LOGGER.warning("SIP registration failed (%s); retrying in %.0f s", err, delay)
                self._set_status(state, str(err))
                if _server_unavailable(err):
                    try:
                        await self._fail_over()
                    except (SipError, OSError) as failed:
                        _LOGGER.debug("SIP fail-over did not open: %s", failed)
                continue
            if self._failures:
                _LOGGER.info("SIP registration restored after %d failures", self._failures)
            self._failures = 0
            delay = refresh_delay(granted, self.refresh_floor)
            self._set_status(RegistrationState.REGISTERED, None, granted)

    # -- the public address by STUN ------------------------------------------------------------

    @property
    def _uses_stun(self) -> bool:
        return bool(self.account.stun_server) and self.account.transport is Transport.UDP

    def _send_stun(self, data: bytes, destination: Address) -> None:
        self.transport.send_datagram(data, destination)

    async def _ask_stun(self) -> str | None:
        """Take the address the STUN server saw as ours (when one is set); the old Contact if it changed.

        Raises :class:`SipStunError` when the server cannot be found or does not answer.
        """
        if not self._uses_stun:
            return None
        assert self.account.stun_server is not None  # _uses_stun
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                self.account.stun_server,
                self.account.stun_port,
                family=socket.AF_INET,
                type=socket.SOCK_DGRAM,
            )
        except OSError as err:
            raise SipStunError(f"STUN server {self.account.stun_server} not found: {err}") from err
        address = infos[0][4]
        seen = await self.stun.mapped_address((str(address[0]), int(address[1])))
        public = None if seen == (self.local_ip, self.transport.local_port) else seen
        if public == self._public:
            return None
        previous = self.contact
        self._public, self._public_source = public, "stun"
        _LOGGER.info("The STUN server sees us at %s:%d; Contact is now %s", *seen, self.contact)
        return previous

    async def _check_public(self) -> str | None:
        """:meth:`_ask_stun` while running: a STUN server that does not answer changes nothing."""
        try:
            return await self._ask_stun()
        except SipStunError as err:
            _LOGGER.warning("Public address not checked: %s", err)
            return None

    async def _keep_public(self) -> None:
        """A trunk's public address, checked every ``stun_refresh`` s: a router may map us anew."""
        while True:
            await asyncio.sleep(self.stun_refresh)
            await self._check_public()

    # -- keep-alive -----------------------------------------------------------------------------

    async def _keep_alive(self) -> None:
        """Ping the registrar/proxy (and direct peers in a call) so NAT bindings stay open.

        A double CRLF (RFC 5626 §3.5.1), on UDP too, as pjsip, Linphone and most desk phones
        send: servers ignore it (RFC 3261 §7.5) or answer a single CRLF, which the transport
        counts and drops. With the OPTIONS method, one OPTIONS to the registrar, proxy or trunk
        instead (what Asterisk calls qualify): its answer, whatever it is, is the server's. Nothing
        is sent while neither registered nor in a call.
        """
        while True:
            await asyncio.sleep(self.keepalive_interval * random.uniform(KEEPALIVE_JITTER, 1.0))  # noqa: S311 (jitter, not a secret)
            if self.keepalive_method is KeepaliveMethod.OPTIONS:
                if self._keepalive_destinations():
                    await self._ping_to_keep_alive()
                continue
            for destination in self._keepalive_destinations():
                try:
                    self.transport.send_keepalive(destination)
                except SipError as err:
                    _LOGGER.debug("Keep-alive not sent: %s", err)
                    continue
                self.keepalives_sent += 1

    async def _ping_to_keep_alive(self) -> None:
        self.keepalives_sent += 1
        try:
            await self.ping(timeout=min(self.transaction_timeout, self.keepalive_interval))
        except SipError as err:
            _LOGGER.debug("Keep-alive OPTIONS: %s", err)

    def _keepalive_destinations(self) -> set[Address]:
        through_server = self.register_enabled or bool(self.account.outbound_proxy)
        destinations: set[Address] = set()
        if self._registered or (through_server and self._calls):
            destinations.add(self._server)
        if not through_server:
            for call in self._calls.values():
                if call.state is CallState.ANSWERED:
                    with contextlib.suppress(SipParseError):
                        destinations.add(self._dialog_destination(call.dialog))
        return destinations

    async def stop(self) -> None:
        """Hang up every call, deregister, and close the transport; idempotent."""
        for task in (self._register_task, self._keepalive_task, self._stun_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._register_task = self._keepalive_task = self._stun_task = None
        calls = list(self._calls.values())
        if calls:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HANGUP_ON_STOP_TIMEOUT):
                    await asyncio.gather(*(call.hangup() for call in calls))
            # Whatever the far ends said, nothing of these calls may outlive the phone.
            await asyncio.gather(*(call.close() for call in calls))
        # After the hang-ups, which refuse calls still ringing: BYEs to unwanted answers and
        # repeated refusals stop here (the far ends time them out).
        for cleanup in list(self._cleanups):
            cleanup.cancel()
        await asyncio.gather(*self._cleanups, return_exceptions=True)
        self.transactions.stop()
        if self._registered:
            self._registered = False
            try:
                await self._register(expires=0, timeout=DEREGISTER_TIMEOUT)
            except SipError as err:
                _LOGGER.debug("Deregistration failed: %s", err)
        if self._started:
            await self.transport.close()
            self._started = False
        self._set_status(RegistrationState.UNREGISTERED)

    # -- registration ---------------------------------------------------------------------------

    async def _register(
        self,
        *,
        expires: int | None = None,
        timeout: float | None = None,
        stale_contact: str | None = None,
    ) -> int:
        """One REGISTER (with digest auth if challenged); return the granted lifetime.

        When the registrar reports another public address than our Contact's, register again
        at once with the public Contact, removing the stale binding in the same request.
        """
        lifetime = self.expires if expires is None else expires
        uri = f"sip:{self.domain}"
        auth: tuple[str, str] | None = None
        stale = [("Contact", f"{stale_contact};expires=0")] if stale_contact else []
        for _attempt in range(4):  # a challenge, a longer interval, and a challenge for it
            self._register_cseq += 1
            headers = [
                ("Via", self.via(new_branch())),
                ("Max-Forwards", "70"),
                ("From", f"<{self.aor}>;tag={self._register_tag}"),
                ("To", f"<{self.aor}>"),
                ("Call-ID", self._register_call_id),
                ("CSeq", f"{self._register_cseq} REGISTER"),
                ("Contact", self.contact),
                *stale,
                *self.initial_route(),
                ("Expires", str(lifetime)),
                ("Allow", ALLOW),
                ("User-Agent", USER_AGENT),
            ]
            if auth:
                headers.append(auth)
            response = await self.request(request("REGISTER", uri, headers), timeout=timeout)
            status = response.status or 0
            if status in (401, 407) and auth is None:
                auth = self.authorization(response, "REGISTER", uri)
                continue
            if status == 423 and lifetime and (least := min_expires(response)) > lifetime:
                # Interval Too Brief (RFC 3261 §10.2.8): again, for as long as the registrar
                # wants (and from now on); it may challenge the new request afresh.
                _LOGGER.info("The registrar wants registrations of at least %d s", least)
                lifetime = self.expires = least
                auth = None
                continue
            break
        if status == 200:
            if lifetime == 0:
                return 0
            if stale_contact is None and (previous := self._adopt_public_address(response)):
                _LOGGER.info("Registrar sees us at %s (NAT); registering that Contact", self.contact)
                return await self._register(expires=expires, timeout=timeout, stale_contact=previous)
            return granted_expires(response, lifetime, self.contact)
        if status in AUTH_FAILURES:
            raise SipAuthError(f"{status} {response.reason}")
        raise SipRejectedError(status, response.reason, retry_after=retry_after(response))

    async def ping(self, *, timeout: float | None = None) -> SipMessage:
        """One OPTIONS to the server (RFC 3261 §11), answered with credentials if challenged.

        A trunk without registration is tested this way. Any answer shows the server is there
        and takes our requests, whether or not it implements OPTIONS (404, 405, 501), except a
        refusal of us: 401/407 still after our credentials (or without a password to give), or
        403 (an IP-authenticated trunk that does not know our address) raise
        :class:`SipAuthError`; a 5xx/6xx raises :class:`SipRejectedError`.
        """
        uri = f"sip:{self._host_port}"
        call_id, tag = new_call_id(self.local_ip), new_tag()
        auth: tuple[str, str] | None = None
        for cseq in (1, 2):
            headers = [
                ("Via", self.via(new_branch())),
                ("Max-Forwards", "70"),
                ("From", f"{self.from_value};tag={tag}"),
                ("To", f"<{uri}>"),
                ("Call-ID", call_id),
                ("CSeq", f"{cseq} OPTIONS"),
                ("Contact", self.contact),
                *self.initial_route(),
                ("Accept", "application/sdp"),
                ("User-Agent", USER_AGENT),
                *([auth] if auth else []),
            ]
            response = await self.request(request("OPTIONS", uri, headers), timeout=timeout)
            status = response.status or 0
            if status in (401, 407) and auth is None and self.account.password:
                auth = self.authorization(response, "OPTIONS", uri)
                continue
            break
        if status in (401, 403, 407):
            raise SipAuthError(f"{status} {response.reason}")
        if status >= 500:
            raise SipRejectedError(status, response.reason, retry_after=retry_after(response))
        return response

    def _adopt_public_address(self, response: SipMessage) -> str | None:
        """Take the address the registrar saw (RFC 3581) as ours; the old Contact if it changed.

        UDP only: over TCP/TLS requests to us come back on our connection, whatever Contact says.
        """
        if not self.rewrite_contact or self.account.transport is not Transport.UDP:
            return None
        seen = reported_address(response)
        if seen is None:
            return None  # the registrar does not say: keep what we have
        self._registrar_reports = True
        public = None if seen == (self.local_ip, self.transport.local_port) else seen
        if public == self._public:
            return None
        previous = self.contact
        self._public, self._public_source = public, "registrar"
        return previous

    def authorization(
        self, challenge: SipMessage, method: str, uri: str, *, body: bytes = b""
    ) -> tuple[str, str]:
        """Answer a 401/407 with our credentials (``body``: of the request they go in, for auth-int)."""
        return authorization(
            challenge,
            method=method,
            uri=uri,
            username=self.account.auth_username or self.account.username,
            password=self.account.password,
            body=body,
        )

    # -- requests and responses -----------------------------------------------------------------

    async def request(self, req: SipMessage, *, timeout: float | None = None) -> SipMessage:
        """Send an out-of-dialog request to the registrar/proxy and await its final response."""
        return await self._run(req, self._server, timeout)

    async def _run(self, req: SipMessage, destination: Address, timeout: float | None) -> SipMessage:
        transaction = self.transactions.client(req, destination, timeout=timeout or self.transaction_timeout)
        with self.transactions.track(transaction):
            return await transaction.run()

    async def out_of_dialog_destination(self, uri: str) -> Address:
        """Where a new request goes: the registrar or proxy; a direct peer otherwise (RFC 3263)."""
        if self.register_enabled or self.account.outbound_proxy:
            return self._server
        target = SipUri.parse(uri)
        return await self._locate(target.host, target.port)

    def _resolve(self, host: str, port: int | None) -> Address:
        """Where ``host`` is, without waiting; a name not known yet goes to the server."""
        return self._resolve_now(host, port) or self._server

    def _resolve_now(self, host: str, port: int | None) -> Address | None:
        """Where ``host`` is without asking DNS: an IP, our server, a name found before; else ``None``."""
        given = port or DEFAULT_PORTS[self.account.transport]
        if is_ip(host):
            return (host, given)
        if host in (self.account.registrar, self.account.outbound_proxy):
            return (self._server[0], given)
        kept = self._hops.get((host, port))
        return kept[0] if kept is not None and kept[1] > time.monotonic() else None

    async def _locate(self, host: str, port: int | None) -> Address:
        """Where ``host`` is: a name is looked up as RFC 3263 says (SRV without a port) and kept a while.

        Only UDP sends each request where it is addressed; a TCP or TLS account keeps its one
        connection to the registrar or proxy. A name DNS does not know goes through the server.
        """
        if (known := self._resolve_now(host, port)) is not None:
            return known
        if self.account.transport is not Transport.UDP:
            return self._server
        try:
            targets = await self.resolver.locate(host, port or DEFAULT_PORTS[Transport.UDP], Transport.UDP)
        except SipConnectionError as err:
            _LOGGER.debug("No address for %s (%s); sending through the server", host, err)
            return self._server
        address = (targets[0].address, targets[0].port)
        now = time.monotonic()
        self._hops = {key: kept for key, kept in self._hops.items() if kept[1] > now}
        if len(self._hops) >= HOPS_KEPT:
            self._hops.pop(next(iter(self._hops)))
        self._hops[(host, port)] = (address, now + HOP_KEPT)
        return address

    def _dialog_destination(self, dialog: Dialog) -> Address:
        if self.account.outbound_proxy:
            return self._server
        host, port = dialog.next_hop()
        return self._resolve(host, port)

    async def _dialog_hop(self, dialog: Dialog) -> Address:
        """Where an in-dialog request goes, a host name looked up first (RFC 3261 §12.2.1.1, RFC 3263)."""
        if self.account.outbound_proxy:
            return self._server
        return await self._locate(*dialog.next_hop())

    def send_in_dialog(self, req: SipMessage, dialog: Dialog) -> None:
        """Send a request that needs no transaction (ACK); to a name not looked up yet, after the lookup."""
        udp = self.account.transport is Transport.UDP
        if self.account.outbound_proxy or not udp or self._resolve_now(*dialog.next_hop()) is not None:
            self._send_to(req, self._dialog_destination(dialog))
            return

        async def send_located() -> None:
            self._send_to(req, await self._dialog_hop(dialog))

        self._in_background(send_located(), f"hold_slayer {req.method} to a host name")

    def _send_to(self, req: SipMessage, destination: Address) -> None:
        try:
            self.transport.send(req, destination)
        except (SipError, SipParseError) as err:
            _LOGGER.debug("Could not send %s: %s", req.method, err)

    async def request_in_dialog(
        self,
        req: SipMessage,
        dialog: Dialog,
        *,
        timeout: float | None = None,
        on_send: Callable[[SipMessage], None] | None = None,
    ) -> SipMessage:
        """Send an in-dialog request (BYE, REFER, re-INVITE, PRACK) and await its final response.

        A 401/407 is answered once with our credentials, in a new request of the dialog (next
        CSeq, new branch): proxies of many providers challenge every request, not only REGISTER
        and INVITE. ``on_send`` sees each request as it goes out, the first and the one with
        credentials.
        """
        if on_send is not None:
            on_send(req)
        response = await self._in_dialog_transaction(req, dialog, timeout)
        if response.status in (401, 407):
            dialog.local_cseq += 1
            kept = [(name, value) for name, value in req.headers if name not in _REBUILT_ON_RETRY]
            headers = [
                ("Via", self.via(new_branch())),
                *kept,
                ("CSeq", f"{dialog.local_cseq} {req.method}"),
                self.authorization(response, req.method or "", req.uri or "", body=req.body),
            ]
            retry = request(req.method or "", req.uri or "", headers, req.body)
            if on_send is not None:
                on_send(retry)
            response = await self._in_dialog_transaction(retry, dialog, timeout)
        return response

    async def _in_dialog_transaction(
        self, req: SipMessage, dialog: Dialog, timeout: float | None
    ) -> SipMessage:
        if timeout is None:
            timeout = self.reinvite_timeout if req.method == "INVITE" else self.dialog_timeout
        return await self._run(req, await self._dialog_hop(dialog), timeout)

    def end_unwanted_session(self, response: SipMessage) -> None:
        """ACK and BYE a 2xx to an INVITE of ours that no call takes (RFC 3261 §13.2.2.4).

        A second fork's answer, or an answer that crossed our CANCEL or came after the call
        ended: left alone, the far end repeats it for 32 s and may hold (and bill) a session
        nobody listens to.
        """
        if (
            response.cseq_method != "INVITE"
            or not 200 <= (response.status or 0) < 300
            or response.from_tag is None
            or response.to_tag is None
            or not response.header("contact")
        ):
            return
        dialog = Dialog(
            call_id=response.call_id,
            local_tag=response.from_tag,
            local_uri=without_tag(response.header("from") or ""),
            remote_uri=without_tag(response.header("to") or ""),
        )
        dialog.confirm(response)
        ack = dialog.build(
            "ACK", [("Via", self.via(new_branch())), ("Contact", self.contact)], cseq=response.cseq
        )
        self.send_in_dialog(ack, dialog)
        dialog.local_cseq = response.cseq
        bye = dialog.build("BYE", [("Via", self.via(new_branch()))])
        _LOGGER.debug("Ending an answer nobody wanted (%s)", response.status)

        async def bye_it() -> None:
            with contextlib.suppress(SipError):
                await self.request_in_dialog(bye, dialog, timeout=UNWANTED_BYE_TIMEOUT)

        self._in_background(bye_it(), "hold_slayer BYE unwanted")

    def _in_background(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """A task no call owns; :meth:`stop` cancels what is left of it."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    def respond(self, req: SipMessage, response: SipMessage) -> None:
        """Answer a request we received, through its server transaction (which answers its repeats).

        A final failure to an INVITE is repeated there until its ACK (Timer G), for at most
        Timer H: a caller that had our 100 Trying no longer repeats its INVITE, so a lost 486
        would leave it ringing until its own timeout.
        """
        self.transactions.respond(req, response)

    def _on_message(self, message: SipMessage, source: Address) -> None:
        if not message.is_request:
            if self.transactions.receive_response(message):
                return
            if call := self._calls.get(message.call_id):
                call.on_stray_response(message)
            elif message.call_id in self._dialled:
                self.end_unwanted_session(message)  # a 2xx after our CANCEL, or after the call ended
            return
        message.source = source
        if not self.transactions.receive_request(message):  # a repeat is answered there
            self._on_request(message)

    def _on_request(self, req: SipMessage) -> None:
        method = req.method
        if req.to_tag is not None:
            call = self._calls.get(req.call_id)
            if call is not None and call.dialog.accepts(req):
                call.handle_request(req)
            elif method != "ACK":
                # Unknown dialog, or a forged request with the right Call-ID but wrong tags.
                self.respond(req, response_to(req, 481))
            return
        if method == "OPTIONS":
            self.respond(req, response_to(req, 200, to_tag=new_tag(), headers=[("Allow", ALLOW)]))
        elif method == "INVITE":
            self._on_invite(req)
        elif method == "CANCEL":
            call = self._calls.get(req.call_id)
            if isinstance(call, IncomingCall):
                call.on_cancel(req)
            else:
                self.respond(req, response_to(req, 481))
        elif method != "ACK":
            self.respond(req, response_to(req, 501, to_tag=new_tag()))

    # -- calls to us ----------------------------------------------------------------------------

    def _on_invite(self, req: SipMessage) -> None:
        """A new INVITE (no To tag; its repeats stay in the transaction layer): a call for ``on_incoming``."""
        existing = self._calls.get(req.call_id)
        if unsupported := unsupported_extensions(req):
            headers = [("Unsupported", ", ".join(unsupported))]
            self.respond(req, response_to(req, 420, to_tag=new_tag(), headers=headers))
            return
        if self.on_incoming is None or existing is not None:
            self.respond(req, response_to(req, 486, to_tag=new_tag()))  # we only place calls
            return
        try:
            offer = sdp.parse(req.body)
        except sdp.SdpError as err:
            _LOGGER.debug("Refusing an INVITE: %s", err)
            offer = None
        if offer is None or offer.codec is None or (offer.secure and not offer.crypto):
            # No offer at all (we need one in the INVITE), no common codec, or SRTP without a key we can use.
            self.respond(req, response_to(req, 488, to_tag=new_tag()))
            return
        if too_brief(req, IncomingCall.min_se):  # RFC 4028 §8.1
            headers = [("Min-SE", str(IncomingCall.min_se))]
            self.respond(req, response_to(req, 422, to_tag=new_tag(), headers=headers))
            return
        media = MediaStream(self.local_ip, clock=self._media_clock, bind_host=self.bind_host)
        try:
            media.bind(self.account.rtp_ports.ports())
        except OSError as err:
            _LOGGER.warning("Refusing an incoming call: %s", err)
            self.respond(req, response_to(req, 503, to_tag=new_tag()))
            return
        call = IncomingCall(self, req, media, offer)
        self._calls[call.call_id] = call
        call.start()
        try:
            self.on_incoming(call)
        except Exception:
            _LOGGER.exception("The incoming-call handler failed")
            if call.state is CallState.INCOMING and not call.ended.done():
                call.reject(500)
            return
        call.start_ring_timer()

    # -- calls ----------------------------------------------------------------------------------

    async def dial(
        self,
        target: str,
        *,
        ring_timeout: float | None = None,
        may_redirect: Callable[[str], bool] | None = None,
    ) -> Call:
        """Start a call to a number, extension or SIP URI; it rings in the background.

        Await :meth:`Call.wait_answered` for the outcome, or watch :attr:`Call.state`. After
        ``ring_timeout`` seconds without an answer the call is cancelled (``no_answer``). A 3xx
        redirect is followed once where ``may_redirect`` allows its target (else not at all).
        """
        if not self._started:
            raise SipConnectionError("the phone is not started")
        uri = self.target_uri(target)
        media = MediaStream(self.local_ip, clock=self._media_clock, bind_host=self.bind_host)
        try:
            await media.open(self.account.rtp_ports.ports())
        except OSError as err:
            raise SipConfigError(str(err)) from err
        call = Call(self, uri, media, may_redirect=may_redirect)
        self._dialled.append(call.call_id)
        if ring_timeout is not None:
            call.ring_timeout = ring_timeout
        self._calls[call.call_id] = call
        call.start()
        return call

    def forget(self, call_id: str) -> None:
        """A call ended: stop routing its dialog."""
        self._calls.pop(call_id, None)

    @property
    def calls(self) -> list[CallLeg]:
        """Calls not yet ended."""
        return list(self._calls.values())


async def probe_registration(
    account: SipAccount, *, answer_within: float = DEFAULT_TRANSACTION_TIMEOUT
) -> None:
    """Register ``account`` once and deregister again: the config flow's credential test.

    Raises :class:`SipConnectionError`, :class:`SipTimeoutError`, :class:`SipAuthError`,
    :class:`SipRejectedError` or :class:`SipConfigError`.
    """
    phone = SipPhone(account, expires=60, transaction_timeout=answer_within)
    await phone.start()
    await phone.stop()


async def probe_trunk(account: SipAccount, *, answer_within: float = DEFAULT_TRANSACTION_TIMEOUT) -> None:
    """Ask a trunk without registration whether it takes our requests (OPTIONS, see ``ping``).

    Raises :class:`SipConnectionError`, :class:`SipTimeoutError`, :class:`SipAuthError`,
    :class:`SipRejectedError` or :class:`SipConfigError`.
    """
    phone = SipPhone(account, register=False, transaction_timeout=answer_within)
    await phone.start()
    try:
        await phone.ping()
    finally:
        await phone.stop()
