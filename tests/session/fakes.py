"""A replayed company line for session unit tests (the real twin: the simulator E2E tests).

The line is a script of steps played as fast as the session consumes frames (audio time, not
wall time). Prompts are real recordings (asterisk-core-sounds), people are real speech
(codec2-examples), music is real hold music; the fake STT returns the scripted words of the
spoken steps whose audio it is given, as a recogniser would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from custom_components.hold_slayer.telephony.call import CallEnd, CallFailedError, CallState, EndCause
from custom_components.hold_slayer.telephony.errors import SipTransferError
from custom_components.hold_slayer.voice.pcm import Pcm
from harness import corpus

RATE = 8000
FRAME = 160


def _pcm(signal: npt.NDArray[np.float64], level_db: float = -20.0) -> Pcm:
    scaled = corpus._normalise(signal, level_db) * 32768
    out: Pcm = np.clip(scaled, -32768, 32767).astype(np.int16)
    return out


def prompt_audio(index: int, seconds: float = 3.0) -> Pcm:
    """Real recorded prompts, concatenated to about ``seconds``."""
    prompts = corpus.prompts("test")
    parts: list[npt.NDArray[np.float64]] = []
    while sum(len(p) for p in parts) < seconds * RATE:
        parts += [prompts[(index + len(parts)) % len(prompts)], np.zeros(800)]
    return _pcm(np.concatenate(parts)[: round(seconds * RATE)])


def person_audio(seconds: float = 3.0, offset: float = 0.0) -> Pcm:
    """A real person talking (``offset`` seconds into the recordings: another sentence)."""
    speech = np.concatenate(corpus.human_speech("test"))
    start = round(offset * RATE)
    return _pcm(speech[start : start + round(seconds * RATE)])


def music_audio(seconds: float, offset: float = 0.0) -> Pcm:
    """Real hold music."""
    track = corpus.music_tracks("test")[0]
    start = round(offset * RATE)
    indices = np.arange(start, start + round(seconds * RATE))
    return _pcm(np.take(track, indices, mode="wrap"), -22)


@dataclass
class Step:
    """Play ``audio`` (with the words ``text`` if spoken), or wait for DTMF."""

    audio: Pcm | None = None
    text: str | None = None
    wait_digits: int = 0  # collect this many digits (silence meanwhile), then go on
    timeout: float = 8.0
    hangup: bool = False


def say(text: str, index: int = 0, seconds: float = 3.0) -> Step:
    """A recorded prompt that says ``text``."""
    return Step(prompt_audio(index, seconds), text)


def person(text: str, seconds: float = 3.0, offset: float = 0.0) -> Step:
    """A person who says ``text``."""
    return Step(person_audio(seconds, offset), text)


def silence(seconds: float) -> Step:
    """Nothing on the line."""
    return Step(np.zeros(round(seconds * RATE), dtype=np.int16))


def music(seconds: float, offset: float | None = None) -> Step:
    """Hold music; by default the track goes on where the last music step left off."""
    global _music_offset  # noqa: PLW0603 - a hold's music continues, it does not restart
    start = _music_offset if offset is None else offset
    _music_offset = start + seconds
    return Step(music_audio(seconds, start))


_music_offset = 0.0


def restart_music() -> None:
    """Each test's hold music starts at the top of the track, whatever ran before it."""
    global _music_offset  # noqa: PLW0603
    _music_offset = 0.0


@dataclass
class FakeLine:
    """A CallLeg that answers at once (or fails) and plays its script."""

    script: list[Step]
    fail: EndCause | None = None
    state: CallState = CallState.DIALING
    digits: str = ""
    inband: list[bool] = field(default_factory=list)  # per send: tones in the audio (else RFC 4733)
    played: list[Pcm] = field(default_factory=list)
    refuse_transfer: bool = False
    answers: bool = True  # False: rings until hung up (a desk nobody picks up)
    transferred_to: str | None = None
    frames_sent: int = 0  # 20 ms frames the line has played so far
    keyed_at: list[float] = field(default_factory=list)  # the line's audio seconds at each send_dtmf

    def __post_init__(self) -> None:
        self.ended: asyncio.Future[CallEnd] = asyncio.get_running_loop().create_future()
        self._listeners: list[Callable[[CallState], None]] = []
        # Which words each audible frame carries: the fake recogniser reads them back.
        self.words_of: dict[bytes, str] = {}
        for step in self.script:
            if step.audio is not None and step.text:
                frames = step.audio[: len(step.audio) // FRAME * FRAME].reshape(-1, FRAME)
                for frame in frames:
                    if np.abs(frame).max() > 50:
                        self.words_of.setdefault(frame.tobytes(), step.text)

    def async_listen(self, listener: Callable[[CallState], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _set(self, state: CallState) -> None:
        self.state = state
        for listener in list(self._listeners):
            listener(state)

    async def wait_answered(self) -> None:
        self._set(CallState.RINGING)
        await asyncio.sleep(0)
        if not self.answers:
            raise CallFailedError(await asyncio.shield(self.ended))
        if self.fail is not None:
            self._end(CallEnd(self.fail, 486, "Busy Here"))
            raise CallFailedError(self.ended.result())
        self._set(CallState.ANSWERED)

    def _end(self, end: CallEnd) -> None:
        if not self.ended.done():
            self.ended.set_result(end)
            self._set(CallState.ENDED)

    async def frames(self) -> AsyncIterator[Pcm]:
        silence_frame = np.zeros(FRAME, dtype=np.int16)
        for step in self.script:
            if self.ended.done():
                return
            if step.hangup:
                self._end(CallEnd(EndCause.REMOTE_HANGUP, None, "BYE"))
                return
            if step.audio is not None:
                for start in range(0, len(step.audio) - FRAME + 1, FRAME):
                    if self.ended.done():
                        return
                    self.frames_sent += 1
                    yield step.audio[start : start + FRAME]
                    await asyncio.sleep(0)
            if step.wait_digits:
                wanted = len(self.digits) + step.wait_digits
                for _ in range(round(step.timeout / 0.02)):
                    if len(self.digits) >= wanted or self.ended.done():
                        break
                    self.frames_sent += 1
                    yield silence_frame
                    await asyncio.sleep(0.001)  # let the session's tasks run
        while not self.ended.done():  # the script is over: silence until someone hangs up
            self.frames_sent += 1
            yield silence_frame
            await asyncio.sleep(0.001)

    async def send_dtmf(
        self, digits: str, *, duration: float = 0.16, pacing: float = 0.1, inband: bool = False
    ) -> None:
        self.digits += digits
        self.inband.append(inband)
        self.keyed_at.append(self.frames_sent * FRAME / RATE)
        await asyncio.sleep(0)

    async def play(self, samples: Pcm) -> bool:
        self.played.append(samples)
        await asyncio.sleep(0)
        return True

    def stop_playback(self) -> None:
        """Nothing to stop: playback is instant here."""

    async def hangup(self) -> CallEnd:
        self._end(CallEnd(EndCause.LOCAL_HANGUP, None, "hung up"))
        return self.ended.result()

    async def transfer(self, target: str) -> None:
        if self.refuse_transfer:
            raise SipTransferError("REFER refused: 403 Forbidden")
        self.transferred_to = target
        self._end(CallEnd(EndCause.TRANSFERRED, None, target))


class FakeBridge:
    """Records that two legs were bridged; ends when either leg ends."""

    def __init__(self, first: FakeLine, second: FakeLine) -> None:
        self.legs = (first, second)
        self.closed = False

    async def wait(self) -> CallEnd:
        done, _ = await asyncio.wait([leg.ended for leg in self.legs], return_when=asyncio.FIRST_COMPLETED)
        return done.pop().result()

    async def close(self) -> None:
        self.closed = True


class ScriptedStt:
    """A recogniser that reads back the scripted words of the spoken steps ``audio`` contains."""

    def __init__(self, line: FakeLine) -> None:
        self.line = line
        self.calls = 0
        self.lengths: list[int] = []  # samples of each audio read

    async def transcribe(self, audio: Pcm, *, language: str) -> str:
        self.calls += 1
        self.lengths.append(len(audio))
        await asyncio.sleep(0)
        texts: list[str] = []
        for frame in audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME):
            text = self.line.words_of.get(frame.tobytes())
            if text is not None and text not in texts:
                texts.append(text)
        return " ".join(texts)


class ToneTts:
    """Speech as a 0.5 s tone: enough to prove the session played something."""

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Pcm:
        tone: Pcm = (3000 * np.sin(np.arange(4000) * 0.3)).astype(np.int16)
        return tone
