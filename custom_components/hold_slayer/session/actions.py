"""The action lane: our keys and words on the line, one at a time, in the order asked.

Deciders, the hand-off and the user's requests all queue here. A press sends the secret's
digits as key tones (the only way a secret ever leaves), a phrase is synthesised and played
(never one holding a secret), a hang-up ends the call. What was done is told through
:class:`Teller` at the moment it happens; when each action is over the session hears of it.

Phrases the call is likely to say (its goal for an open question, "yes", the greeting that
keeps an agent on the line) can be synthesised ahead, while the line is still talking, so
answering costs no synthesis time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol

from custom_components.hold_slayer.ivr.decide import Action, HangUp, Press, Say
from custom_components.hold_slayer.voice.pcm import Pcm
from custom_components.hold_slayer.voice.protocols import SpeechError, TextToSpeech

from .errors import CallNotConnectedError
from .request import MASK, CallRequest

_LOGGER = logging.getLogger(__name__)

DTMF_PACING: Final = 0.15
AGAIN_DURATION: Final = 0.25  # keys a line did not take are sent again longer …
AGAIN_PACING: Final = 0.5  # … further apart, and as tones in the audio


class Keypad(Protocol):
    """What the lane needs of the call."""

    async def send_dtmf(  # noqa: D102
        self, digits: str, *, duration: float = ..., pacing: float = ..., inband: bool = ...
    ) -> None: ...
    async def play(self, samples: Pcm) -> bool: ...  # noqa: D102
    async def hangup(self) -> object: ...  # noqa: D102


class Teller(Protocol):
    """Who hears what the lane did (the session: transcript, timeline, events)."""

    def pressed(self, action: Press, shown: str, *, again: bool) -> None: ...  # noqa: D102
    def said(self, action: Say) -> None: ...  # noqa: D102
    def hanging_up(self, action: HangUp) -> None: ...  # noqa: D102


class ActionLane:
    """One call's actions."""

    def __init__(
        self,
        call: Keypad,
        request: CallRequest,
        tts: TextToSpeech | None,
        teller: Teller,
        *,
        done: Callable[[Action, bool], None],
        call_id: str,
    ) -> None:
        self._call = call
        self._request = request
        self._tts = tts
        self._teller = teller
        self._done = done
        self._id = call_id
        self._queue: asyncio.Queue[tuple[Action, bool, asyncio.Future[None] | None]] = asyncio.Queue()
        self._ready: dict[str, Pcm] = {}  # phrases synthesised ahead

    async def prepare(self, texts: list[str]) -> None:
        """Synthesise ``texts`` ahead (never one holding a secret); a failure only costs the time."""
        if self._tts is None:
            return
        for text in texts:
            if text in self._ready or not text or self._request.holds_secret(text):
                continue
            try:
                self._ready[text] = await self._tts.synthesize(text, language=self._request.language)
            except SpeechError as err:
                _LOGGER.debug("Call %s: could not synthesise ahead: %s", self._id, err)
                return

    def put(self, action: Action, result: asyncio.Future[None] | None = None, *, again: bool = False) -> None:
        """Queue ``action`` (``again``: keys the line did not take); ``result`` gets how it went."""
        self._queue.put_nowait((action, again, result))

    async def run(self) -> None:
        """Perform queued actions until cancelled."""
        while True:
            action, again, result = await self._queue.get()
            try:
                done = await self.perform(action, again=again)
            except Exception as err:  # noqa: BLE001 - the lane outlives any one action; the error goes to who asked
                if result is None:
                    _LOGGER.warning("Call %s: %s failed: %s", self._id, type(action).__name__, err)
                elif not result.done():
                    result.set_exception(err)
                done = False
            else:
                if result is not None and not result.done():
                    result.set_result(None)
            self._done(action, done)

    def refuse_waiting(self) -> None:
        """The call is over: requests still queued are refused."""
        while not self._queue.empty():
            _action, _again, result = self._queue.get_nowait()
            if result is not None and not result.done():
                result.set_exception(CallNotConnectedError())

    async def perform(self, action: Action, *, again: bool = False) -> bool:
        """Key, say or hang up; whether it happened (a wait does nothing)."""
        if isinstance(action, Press):
            return await self._press(action, again=again)
        if isinstance(action, Say):
            return await self._say(action)
        if isinstance(action, HangUp):
            self._teller.hanging_up(action)
            await self._call.hangup()
            return True
        return False

    async def say_now(self, say: Say) -> None:
        """Say ``say`` at once, outside the queue (to the agent while the desk rings)."""
        await self._say(say)

    async def _press(self, action: Press, *, again: bool) -> bool:
        secret = self._request.secrets.get(action.secret, "") if action.secret else ""
        digits = secret + action.digits
        if not digits:
            return False
        if again:
            await self._call.send_dtmf(digits, duration=AGAIN_DURATION, pacing=AGAIN_PACING, inband=True)
        else:
            await self._call.send_dtmf(digits, pacing=DTMF_PACING)
        self._teller.pressed(action, (MASK if secret else "") + action.digits, again=again)
        return True

    async def _say(self, action: Say) -> bool:
        if self._request.holds_secret(action.text):
            # Secrets are only ever sent as key tones, never spoken.
            _LOGGER.warning("Call %s: refused to say a secret", self._id)
            return False
        if self._tts is None:
            _LOGGER.warning("Call %s: cannot say anything without a TTS engine", self._id)
            return False
        try:
            audio = self._ready.get(action.text)
            if audio is None:
                audio = await self._tts.synthesize(action.text, language=self._request.language)
        except SpeechError as err:
            _LOGGER.warning("Call %s: speech synthesis failed: %s", self._id, err)
            return False
        self._teller.said(action)
        await self._call.play(audio)
        return True
