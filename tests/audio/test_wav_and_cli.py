"""Reading any WAV as 8 kHz mono, and the script/classify contract."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.hold_slayer.audio.wav import WavError, read_8k, resample

CLASSIFY = Path(__file__).resolve().parents[2] / "tools" / "classify.py"


def _write(path: Path, data: bytes, *, width: int, rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(data)
    return path


def _sine(rate: int, seconds: float = 1.0, frequency: float = 1000.0) -> npt.NDArray[np.float64]:
    return 0.5 * np.sin(2 * np.pi * frequency * np.arange(round(rate * seconds)) / rate)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_sample_widths(tmp_path: Path, width: int) -> None:
    """8-, 16-, 24- and 32-bit PCM decode to the same sine."""
    sine = _sine(8000)
    if width == 1:
        data = (sine * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = (sine * (1 << 23)).astype(np.int32)
        data = b"".join(int(v & 0xFFFFFF).to_bytes(3, "little") for v in ints)
    else:
        data = (sine * (1 << (8 * width - 1))).astype(f"<i{width}").tobytes()
    decoded = read_8k(_write(tmp_path / "x.wav", data, width=width, rate=8000))
    assert np.max(np.abs(decoded - sine)) < 0.01


def test_stereo_16k_is_downmixed_and_resampled(tmp_path: Path) -> None:
    """16 kHz stereo: channels averaged, resampled to 8 kHz without aliasing the band."""
    sine = _sine(16000)
    stereo = np.column_stack((sine, sine)).ravel()
    decoded = read_8k(
        _write(tmp_path / "s.wav", (stereo * 32767).astype("<i2").tobytes(), width=2, rate=16000, channels=2)
    )
    assert len(decoded) == pytest.approx(8000, abs=2)
    spectrum = np.abs(np.fft.rfft(decoded))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=2)
    aliased = read_8k(
        _write(
            tmp_path / "a.wav",
            (_sine(16000, frequency=6000) * 32767).astype("<i2").tobytes(),
            width=2,
            rate=16000,
        )
    )
    assert np.max(np.abs(aliased)) < 0.05  # 6 kHz cannot fold down to 2 kHz


def test_a_length_with_a_large_prime_factor_resamples_the_same() -> None:
    """Padded to a length of small factors for speed, the result keeps the clip's length, its
    band and its ends: no ringing from the padding, no 6 kHz folded down."""
    rate, length = 44100, 2 * 21683  # 21683 is prime
    mixed = _sine(rate, length / rate) + _sine(rate, length / rate, frequency=6000)
    out = resample(mixed, rate)
    assert len(out) == pytest.approx(length * 8000 / rate, abs=1)
    wanted = _sine(8000, len(out) / 8000)
    assert np.max(np.abs(out[400:-400] - wanted[400:-400])) < 0.01
    assert np.max(np.abs(out)) < 0.55  # the ends ring a little, as any brick-wall filter does


def test_bad_files(tmp_path: Path) -> None:
    """Non-WAV input and impossible rates are WavErrors."""
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....not a wav")
    with pytest.raises(WavError):
        read_8k(junk)
    with pytest.raises(WavError):
        resample(np.zeros(10), 0)


def _classify(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the classifier's command line (tools/classify.py, behind script/classify)."""
    return subprocess.run([sys.executable, str(CLASSIFY), *args], capture_output=True, text=True, check=False)


def test_classify_json_contract(tmp_path: Path) -> None:
    """One object per step with t/label/confidence, then the summary last."""
    path = _write(tmp_path / "m.wav", (np.zeros(8000 * 3)).astype("<i2").tobytes(), width=2, rate=8000)
    run = _classify(str(path), "--json")
    assert run.returncode == 0
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert set(lines[0]) == {"t", "label", "confidence"}
    assert {line["label"] for line in lines[:-1]} == {"silence"}
    assert lines[-1]["summary"]["duration_s"] == 3.0
    run = _classify(str(path))
    assert run.returncode == 0
    assert "summary:" in run.stdout
    assert _classify(str(tmp_path / "missing.wav")).returncode == 2
