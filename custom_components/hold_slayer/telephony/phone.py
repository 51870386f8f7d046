"""``SipPhone``: the asyncio face of one SIP account.

The SIP library blocks and runs its own threads. This class owns every one of them (the engine's
receive thread and our registration thread), names them, joins them on :meth:`SipPhone.stop`,
and crosses back into asyncio only through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .account import SipAccount
from .engine import SipEngine
from .errors import SipAuthError, SipError

_LOGGER = logging.getLogger(__name__)

DEFAULT_EXPIRES: Final = 600
DEFAULT_TRANSACTION_TIMEOUT: Final = 10.0
DEREGISTER_TIMEOUT: Final = 2.0
THREAD_JOIN_TIMEOUT: Final = 5.0
RETRY_FIRST: Final = 5.0
RETRY_MAX: Final = 300.0
REFRESH_FLOOR: Final = 5.0


class RegistrationState(StrEnum):
    """Where the account stands with its registrar."""

    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"
    AUTH_FAILED = "auth_failed"


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


class SipPhone:
    """One SIP account: registers, keeps the registration alive and reports its state."""

    # Timing knobs as attributes so tests can shorten them.
    retry_first: float = RETRY_FIRST
    retry_max: float = RETRY_MAX
    refresh_floor: float = REFRESH_FLOOR

    def __init__(
        self,
        account: SipAccount,
        *,
        expires: int = DEFAULT_EXPIRES,
        transaction_timeout: float = DEFAULT_TRANSACTION_TIMEOUT,
    ) -> None:
        self.account = account
        self._engine = SipEngine(account, expires=expires, transaction_timeout=transaction_timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._register_thread: threading.Thread | None = None
        self._status = RegistrationStatus(RegistrationState.UNREGISTERED)
        self._listeners: list[Callable[[RegistrationStatus], None]] = []
        self._failures = 0

    # -- state -------------------------------------------------------------------------------

    @property
    def status(self) -> RegistrationStatus:
        """The latest registration status (read in the event loop)."""
        return self._status

    def async_listen(self, listener: Callable[[RegistrationStatus], None]) -> Callable[[], None]:
        """Call ``listener`` in the event loop on every status change; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _set_status(self, status: RegistrationStatus) -> None:
        old = self._status
        if (old.state, old.error, old.expires) == (status.state, status.error, status.expires):
            return  # a routine refresh: nothing for listeners to record
        self._status = status
        for listener in list(self._listeners):
            listener(status)

    def _post(self, state: RegistrationState, error: str | None = None, expires: int | None = None) -> None:
        """From a library thread: hand the new status to the event loop."""
        status = RegistrationStatus(state, error, expires, time.time())
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._set_status, status)

    @property
    def threads(self) -> list[threading.Thread]:
        """Threads started for this phone that are still alive."""
        own = [t for t in (self._register_thread,) if t is not None and t.is_alive()]
        return own + self._engine.threads

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the transport and register once; raise the :class:`SipError` if that fails.

        After a successful start the registration is refreshed, and re-established with
        exponential backoff after failures, until :meth:`stop`.
        """
        self._loop = asyncio.get_running_loop()
        self._set_status(RegistrationStatus(RegistrationState.REGISTERING, changed_at=time.time()))
        try:
            granted = await self._loop.run_in_executor(None, self._open_and_register)
        except SipError as err:
            state = (
                RegistrationState.AUTH_FAILED if isinstance(err, SipAuthError) else RegistrationState.FAILED
            )
            self._set_status(RegistrationStatus(state, str(err), None, time.time()))
            await self._loop.run_in_executor(None, self._engine.close)
            raise
        self._set_status(RegistrationStatus(RegistrationState.REGISTERED, None, granted, time.time()))
        self._stop.clear()
        thread = threading.Thread(
            target=self._keep_registered,
            args=(granted,),
            name=f"hold_slayer SIP register {self.account.aor}",
            daemon=True,
        )
        self._register_thread = thread
        thread.start()

    def _open_and_register(self) -> int:
        self._engine.open()
        return self._engine.register()

    def _keep_registered(self, granted: int) -> None:
        """Registration thread: refresh before expiry, back off after failures."""
        delay = refresh_delay(granted, self.refresh_floor)
        while not self._stop.wait(delay):
            try:
                granted = self._engine.register()
            except SipError as err:
                self._failures += 1
                delay = retry_delay(self._failures, self.retry_first, self.retry_max)
                state = (
                    RegistrationState.AUTH_FAILED
                    if isinstance(err, SipAuthError)
                    else RegistrationState.FAILED
                )
                _LOGGER.warning("SIP registration failed (%s); retrying in %.0f s", err, delay)
                self._post(state, str(err))
                continue
            if self._failures:
                _LOGGER.info("SIP registration restored after %d failures", self._failures)
            self._failures = 0
            delay = refresh_delay(granted, self.refresh_floor)
            self._post(RegistrationState.REGISTERED, None, granted)

    async def stop(self) -> None:
        """Deregister, close the sockets and join every thread this phone started."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._stop_blocking)
        self._set_status(RegistrationStatus(RegistrationState.UNREGISTERED, changed_at=time.time()))

    def _stop_blocking(self) -> None:
        self._stop.set()
        thread, self._register_thread = self._register_thread, None
        if thread is not None:
            thread.join(THREAD_JOIN_TIMEOUT)
            try:
                self._engine.register(deregister=True, timeout=DEREGISTER_TIMEOUT)
            except SipError as err:
                _LOGGER.debug("Deregistration failed: %s", err)
        self._engine.close()


async def probe_registration(
    account: SipAccount, *, answer_within: float = DEFAULT_TRANSACTION_TIMEOUT
) -> None:
    """Register ``account`` once and deregister again: the config flow's credential test.

    Raises :class:`SipConnectionError`, :class:`SipTimeoutError`, :class:`SipAuthError`,
    :class:`SipRejectedError` or :class:`SipConfigError`.
    """
    engine = SipEngine(account, expires=60, transaction_timeout=answer_within)

    def run() -> None:
        try:
            engine.open()
            engine.register()
            try:
                engine.register(deregister=True, timeout=min(answer_within, DEREGISTER_TIMEOUT))
            except SipError as err:
                _LOGGER.debug("Deregistration after the test failed: %s", err)
        finally:
            engine.close()

    await asyncio.get_running_loop().run_in_executor(None, run)
