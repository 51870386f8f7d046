"""Voice-activity endpointing: cut a stream of 20 ms frames into utterances as they end.

Speech is transcribed utterance by utterance while the call goes on, never as a whole call.
An utterance starts when the level stays a margin above the tracked noise floor for a few
frames, and ends after a stretch of quiet (a pause between sentences is shorter than that).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Final

import numpy as np

from .pcm import CALL_RATE, Pcm

FRAME_SECONDS: Final = 0.02
START_MARGIN_DB: Final = 9.0  # above the noise floor
MIN_LEVEL_DB: Final = -50.0  # dBFS; quieter than this is never speech
START_FRAMES: Final = 3  # 60 ms of level before an utterance counts as started
PRE_ROLL_FRAMES: Final = 10  # keep 200 ms before the start (soft consonants)
FLOOR_RISE_DB_PER_FRAME: Final = 0.05  # the floor creeps up slowly and drops at once


@dataclass(frozen=True, slots=True)
class Utterance:
    """One finished stretch of speech (8 kHz int16) and when it started and ended, in seconds."""

    audio: Pcm
    start: float
    end: float


def frame_level_db(frame: Pcm) -> float:
    """RMS level of a frame in dBFS."""
    rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) / 32768
    return 20 * math.log10(max(rms, 1e-7))


class UtteranceDetector:
    """Push frames in order; get an :class:`Utterance` back when one has ended."""

    def __init__(self, *, end_silence: float = 0.7, max_length: float = 20.0) -> None:
        self.end_silence = end_silence
        self.max_length = max_length
        self._floor = MIN_LEVEL_DB - START_MARGIN_DB
        self._pre_roll: deque[Pcm] = deque(maxlen=PRE_ROLL_FRAMES)
        self._frames: list[Pcm] = []
        self._loud_run = 0
        self._quiet_run = 0
        self._active = False
        self._frame_index = 0
        self._start_index = 0
        self._since_loud = 0  # frames since the last loud one, in or out of an utterance

    @property
    def active(self) -> bool:
        """Whether an utterance is in progress."""
        return self._active

    @property
    def quiet_seconds(self) -> float:
        """Seconds since the last frame loud enough for speech (a pause inside an utterance too)."""
        return self._since_loud * FRAME_SECONDS

    def push(self, frame: Pcm) -> Utterance | None:
        """Add a frame; returns the utterance that this frame ended, if any."""
        level = frame_level_db(frame)
        loud = level > max(MIN_LEVEL_DB, self._floor + START_MARGIN_DB)
        self._track_floor(level)
        self._frame_index += 1
        self._since_loud = 0 if loud else self._since_loud + 1
        if not self._active:
            self._pre_roll.append(frame)
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run >= START_FRAMES:
                self._active = True
                self._frames = list(self._pre_roll)
                self._start_index = self._frame_index - len(self._frames)
                self._pre_roll.clear()
                self._quiet_run = 0
            return None
        self._frames.append(frame)
        self._quiet_run = 0 if loud else self._quiet_run + 1
        too_long = len(self._frames) * FRAME_SECONDS >= self.max_length
        if self._quiet_run * FRAME_SECONDS >= self.end_silence or too_long:
            return self._finish(trailing=0 if too_long else self._quiet_run)
        return None

    def flush(self) -> Utterance | None:
        """End the utterance in progress now (the stream ended, or its words are known): it, if any."""
        if not self._active:
            return None
        return self._finish(trailing=self._quiet_run)

    def peek(self) -> Utterance | None:
        """The utterance in progress as it stands, without its trailing quiet (None: none open)."""
        return self._so_far(trailing=self._quiet_run) if self._active else None

    def _so_far(self, *, trailing: int) -> Utterance:
        keep = self._frames[: len(self._frames) - trailing] if trailing else self._frames
        audio: Pcm = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int16)
        start = self._start_index * FRAME_SECONDS
        return Utterance(audio=audio, start=start, end=start + len(audio) / CALL_RATE)

    def _finish(self, *, trailing: int) -> Utterance:
        utterance = self._so_far(trailing=trailing)
        self._active = False
        self._frames = []
        self._loud_run = 0
        self._quiet_run = 0
        return utterance

    def _track_floor(self, level: float) -> None:
        # A minimum tracker: quiet frames pull the floor down at once, loud ones lift it slowly,
        # so steady noise (comfort noise, a hum) stops counting as speech after a while.
        if level < self._floor:
            self._floor = level
        else:
            self._floor += FLOOR_RISE_DB_PER_FRAME
