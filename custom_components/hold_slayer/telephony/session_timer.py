"""Session timers (RFC 4028): ``Session-Expires``/``Min-SE`` negotiation and who refreshes.

Pure functions over messages; :class:`~.call.CallLeg` runs the timer itself. Roles are those of
the transaction that negotiated the interval: ``refresher=uac`` in a 2xx means whoever sent
that INVITE (or UPDATE) refreshes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .sipmsg import SipMessage, params_of

SESSION_EXPIRES: Final = 1800  # what we ask for as UAC (RFC 4028 §4 recommends 1800 s)
MIN_SE: Final = 90  # the smallest interval we accept (RFC 4028 §5: MUST NOT be below 90 s)


class Refresher(StrEnum):
    """Who sends the refreshes, by role in the negotiating transaction."""

    UAC = "uac"
    UAS = "uas"


@dataclass(frozen=True, slots=True)
class SessionTimer:
    """A ``Session-Expires`` value: the interval and, if given, the refresher."""

    interval: int
    refresher: Refresher | None = None

    def header(self) -> tuple[str, str]:
        """The ``Session-Expires`` header for this value."""
        suffix = f";refresher={self.refresher.value}" if self.refresher else ""
        return ("Session-Expires", f"{self.interval}{suffix}")

    @property
    def watch_after(self) -> float:
        """When the refreshee gives up without a refresh: before expiry (RFC 4028 §10)."""
        return self.interval - min(32.0, self.interval / 3)


def session_expires(message: SipMessage) -> SessionTimer | None:
    """The message's ``Session-Expires``; ``None`` when absent or malformed."""
    value = message.header("session-expires")
    if not value:
        return None
    head = value.split(";", 1)[0].strip()
    if not head.isdigit() or int(head) <= 0:
        return None
    refresher = (params_of(value).get("refresher") or "").lower()
    return SessionTimer(int(head), Refresher(refresher) if refresher in ("uac", "uas") else None)


def min_se(message: SipMessage) -> int | None:
    """The message's ``Min-SE`` in seconds, if any."""
    value = (message.header("min-se") or "").split(";", 1)[0].strip()
    return int(value) if value.isdigit() else None


def supports_timer(message: SipMessage) -> bool:
    """Whether the sender listed ``timer`` in Supported or Require."""
    tokens = ",".join(message.header_values("supported") + message.header_values("require"))
    return "timer" in {token.strip().lower() for token in tokens.split(",")}


def too_brief(request: SipMessage, minimum: int) -> bool:
    """Whether the request's Session-Expires is below our Min-SE (answer 422, RFC 4028 §8.1)."""
    asked = session_expires(request)
    return asked is not None and asked.interval < minimum


def uas_answer(request: SipMessage) -> tuple[SessionTimer, list[tuple[str, str]]] | None:
    """What we, as UAS, put in the 2xx to a request asking for a session timer (RFC 4028 §9).

    A refresher the request names is kept; without one we refresh ourselves (``uas``): our
    refreshes keep the signalling path (and NAT bindings) alive on a long hold whether or not
    the far end would have refreshed. ``Require: timer`` only if the far end supports it.
    ``None``: the request asks for no timer.
    """
    asked = session_expires(request)
    if asked is None:
        return None
    supported = supports_timer(request)
    refresher = asked.refresher if supported and asked.refresher else Refresher.UAS
    timer = SessionTimer(asked.interval, refresher)
    headers = [timer.header()]
    if supported:
        headers.append(("Require", "timer"))
    return timer, headers


def we_refresh(timer: SessionTimer, *, we_sent_request: bool) -> bool:
    """Whether we are the refresher under ``timer`` from the 2xx of a transaction.

    A 2xx without a refresher (a UAS that does not say) leaves it to the request's sender.
    """
    refresher = timer.refresher or Refresher.UAC
    return (refresher is Refresher.UAC) == we_sent_request
