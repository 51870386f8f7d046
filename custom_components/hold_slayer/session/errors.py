"""What a call session refuses, as exceptions the HA surface maps to translated errors."""

from __future__ import annotations


class SessionError(Exception):
    """A request the call cannot carry out in its present state."""


class CallNotConnectedError(SessionError):
    """The call is not (or no longer) connected: nothing can be pressed, said or transferred."""


class TransferInProgressError(SessionError):
    """The call is already being transferred, or was."""
