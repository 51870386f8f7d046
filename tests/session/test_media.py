"""The media loop's kept audio: what the session's collaborators read of the line."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from custom_components.hold_slayer.session.inputs import Input
from custom_components.hold_slayer.session.media import MediaLoop
from custom_components.hold_slayer.voice.pcm import Pcm


async def _frames(count: int) -> AsyncIterator[Pcm]:
    for index in range(count):
        yield np.full(160, index, dtype=np.int16)  # each frame says which it is


async def test_kept_audio_is_read_to_the_moment_the_session_has_reached() -> None:
    """The loop reads ahead of the inputs a busy session has handled; a look at the line's
    audio stops where the session's clock is, so the same look gives the same audio however
    far behind it runs."""
    media = MediaLoop(None, end_silence=0.6)
    sent: list[Input] = []
    await media.run(_frames(100), sent.append)  # two seconds read
    assert abs(media.audio_time - 2.0) < 1e-9

    def frames_of(audio: Pcm) -> list[int]:
        return [int(frame[0]) for frame in audio.reshape(-1, 160)]

    assert frames_of(media.recent_audio(1.5)) == list(range(75, 100))
    assert frames_of(media.recent_audio(1.0, 1.4)) == list(range(50, 70))
    assert frames_of(media.recent_audio(0.0, 0.2)) == list(range(10))
    assert frames_of(media.recent_audio(1.0, 5.0)) == list(range(50, 100))  # not past what was read
    assert len(media.recent_audio(1.4, 1.0)) == 0
