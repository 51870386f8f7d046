"""The media loop: the call's 20 ms frames in, the session's inputs out.

Every frame goes to the endpointer (utterances for the transcriber) and, in 100 ms blocks, to
the hold monitor (classifier decisions and hold/person events). A ring buffer keeps the last
seconds of audio so a new voice's first words can be read after the monitor reports it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Final

import numpy as np

from custom_components.hold_slayer.audio.classifier import STEP_FRAMES
from custom_components.hold_slayer.audio.monitor import HoldMonitor
from custom_components.hold_slayer.voice.endpoint import UtteranceDetector
from custom_components.hold_slayer.voice.pcm import Pcm

from .inputs import Heard, Input, LineEnded, UtteranceEnded

FRAME_SECONDS: Final = 0.02
# Call audio kept: to read a new voice's first words, and to know a remembered prompt's
# recording as it ends (a menu with its welcome runs to half a minute).
RING_SECONDS: Final = 45.0


class MediaLoop:
    """One call's audio analysis (the monitor is replaced when a quiet turns out not to be a hold)."""

    def __init__(self, monitor: HoldMonitor | None, *, end_silence: float) -> None:
        self.monitor = monitor or HoldMonitor()
        self.endpointer = UtteranceDetector(end_silence=end_silence)
        self.audio_time = 0.0  # seconds of audio read (ahead of the inputs handled by a frame at most)
        self.started: float | None = None  # loop time of the first frame
        self._ring: deque[Pcm] = deque(maxlen=round(RING_SECONDS / FRAME_SECONDS))
        self._send: Callable[[Input], None] | None = None

    async def run(self, frames: AsyncIterator[Pcm], send: Callable[[Input], None]) -> None:
        """Read the call's frames until it ends, sending what was heard."""
        self._send = send
        block: list[Pcm] = []
        async for frame in frames:
            if self.started is None:
                self.started = asyncio.get_running_loop().time()
            self.audio_time += FRAME_SECONDS
            block.append(frame)
            self._ring.append(frame)
            if len(block) >= STEP_FRAMES:
                decisions, events = self.monitor.push_block(np.stack(block).astype(np.float64) / 32768)
                block = []
                send(
                    Heard(
                        round(self.audio_time, 3),
                        tuple(decisions),
                        tuple(events),
                        self.endpointer.active,
                        self.endpointer.quiet_seconds,
                    )
                )
            if (utterance := self.endpointer.push(frame)) is not None:
                send(UtteranceEnded(utterance))
        send(LineEnded())

    def recent_audio(self, since: float, until: float | None = None) -> Pcm:
        """The call audio from ``since`` to ``until`` (audio seconds; default: all read so far).

        The loop reads ahead of the inputs the session has handled when the machine is busy;
        ``until`` keeps what the session looks at to the moment its inputs have reached.
        """
        end = self.audio_time if until is None else min(until, self.audio_time)
        last = len(self._ring) - round((self.audio_time - end) / FRAME_SECONDS)
        first = max(0, last - round((end - since) / FRAME_SECONDS))
        frames = list(self._ring)[first : max(last, 0)]
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)

    def end_utterance(self) -> None:
        """Close the utterance in progress now: its words belong to a prompt already known.

        The line's next prompt, often less than the endpointer's quiet later, starts its own.
        """
        if self._send is not None and (utterance := self.endpointer.flush()) is not None:
            self._send(UtteranceEnded(utterance))

    def start_afresh(self) -> None:
        """What looked like a hold was the menu waiting: the monitor forgets it (the classifier stays)."""
        self.monitor = HoldMonitor(self.monitor.classifier)
