"""Fit the voice signature with PyTorch on the CPU: a distillation of a speaker encoder.

    .venvs/train/bin/python tools/fit_voice.py MODEL.npz DATASET.npz --teacher PRETRAINED.pt
        [--trials TRIALS.npz] [--check CHECK.npy] [--epochs 30] [--seed 7]

The teacher is Resemblyzer's GE2E speaker encoder (Wan et al. 2018; Apache-2.0, the PyPI wheel
``resemblyzer``): three LSTM layers over 40 mel bands of 16 kHz audio, trained on thousands of
speakers, which our offline sources cannot give. The student is ours: a few convolutions along
time over the hold classifier's own frame inputs (8 kHz, 20 ms frames, computed once for both),
pooled to a mean and a spread, then one dense layer. It learns to put each stretch of talk
where the teacher puts the same stretch (heard through the same line, upsampled), so it learns
what a voice is from the teacher's many speakers and how a telephone line sounds from ours.

Run by ``tools/train_voice.py`` (which makes the dataset in the project's venv and scores the
result in numpy); it needs only numpy and torch and imports nothing of the project. The
network mirrors ``custom_components/hold_slayer/audio/voice.py`` op for op. Deterministic for
a seed.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

RATE = 8000
FRAME = 160  # samples of one of the student's frames (20 ms at 8 kHz)
CROPS = (50, 75, 150)  # frames of talk a signature is asked of: 1, 1.5 and 3 s
CHECKED = 16  # clips whose embeddings numpy must reproduce
TEACHER_RATE = 16000
TEACHER_FFT = 400  # 25 ms
TEACHER_HOP = 160  # 10 ms
TEACHER_BANDS = 40
TEACHER_LEVEL_DB = -30.0  # Resemblyzer raises quieter audio to this (never lowers it)


# The teacher


class Teacher(nn.Module):  # type: ignore[misc]
    """GE2E: LSTM 3 x 256 over mel power, its last state through a dense layer, L2-normalised."""

    def __init__(self, pretrained: Path) -> None:
        super().__init__()
        self.lstm = nn.LSTM(TEACHER_BANDS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        state = torch.load(pretrained, map_location="cpu")["model_state"]
        self.load_state_dict({key: value for key, value in state.items() if not key.startswith("similarity")})
        self.eval()
        self.register_buffer("mel", torch.from_numpy(slaney_mel()).float())
        self.register_buffer("window", torch.hann_window(TEACHER_FFT, periodic=True))

    @torch.no_grad()  # type: ignore[misc]
    def forward(self, audio: npt.NDArray[np.float32]) -> torch.Tensor:
        """Embeddings of clips of 8 kHz audio (clips x samples), as the teacher hears them."""
        wide = torch.from_numpy(upsampled(audio)).float()
        level = 10 * torch.log10(torch.mean(wide**2, dim=1, keepdim=True) + 1e-12)
        wide = wide * torch.clamp(10 ** ((TEACHER_LEVEL_DB - level) / 20), min=1.0)
        spectrum = torch.stft(
            wide,
            TEACHER_FFT,
            TEACHER_HOP,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        mels = (self.mel @ spectrum.abs() ** 2).transpose(1, 2)  # clips x frames x bands
        _, (hidden, _) = self.lstm(mels)
        embedded = torch.relu(self.linear(hidden[-1]))
        return embedded / torch.norm(embedded, dim=1, keepdim=True).clamp(min=1e-9)


def upsampled(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """8 kHz clips at 16 kHz: the spectrum zero-padded (nothing above 4 kHz, as on the line)."""
    spectrum = np.fft.rfft(audio, axis=1)
    wide = np.zeros((audio.shape[0], audio.shape[1] + 1), dtype=spectrum.dtype)
    wide[:, : spectrum.shape[1]] = spectrum
    result: npt.NDArray[np.float32] = (np.fft.irfft(wide, 2 * audio.shape[1], axis=1) * 2).astype(np.float32)
    return result


def slaney_mel() -> npt.NDArray[np.float64]:
    """The mel filterbank the teacher was trained with (librosa's default: Slaney's scale and norm)."""

    def to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = 200.0 / 3 * mels
        hz: npt.NDArray[np.float64] = np.where(
            mels >= 15.0, 1000.0 * np.exp(math.log(6.4) / 27.0 * (mels - 15.0)), linear
        )
        return hz

    def to_mel(hz: float) -> float:
        return hz / (200.0 / 3) if hz < 1000 else 15.0 + math.log(hz / 1000.0) / (math.log(6.4) / 27.0)

    bins = np.linspace(0, TEACHER_RATE / 2, 1 + TEACHER_FFT // 2)
    edges = to_hz(np.linspace(to_mel(0.0), to_mel(TEACHER_RATE / 2), TEACHER_BANDS + 2, dtype=np.float64))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights: npt.NDArray[np.float64] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


# The student


class Student(nn.Module):  # type: ignore[misc]
    """Valid convolutions along time, mean and spread over the stretch, one dense layer, L2-normalised."""

    def __init__(
        self, inputs: int, channels: int, size: int, mean: torch.Tensor, scale: torch.Tensor
    ) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        self.convolutions = nn.ModuleList(
            [
                nn.Conv1d(inputs, channels, 5),
                nn.Conv1d(channels, channels, 5, dilation=2),
                nn.Conv1d(channels, channels, 3, dilation=4),
            ]
        )
        self.dense = nn.Linear(2 * channels, size)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Embeddings of stretches (stretches x frames x inputs)."""
        hidden = ((inputs - self.mean) / self.scale).transpose(1, 2)
        for convolution in self.convolutions:
            hidden = torch.relu(convolution(hidden))
        mean = hidden.mean(dim=2)
        spread = torch.sqrt(torch.clamp((hidden**2).mean(dim=2) - mean**2, min=0.0) + 1e-6)
        embedded = self.dense(torch.cat((mean, spread), dim=1))
        return embedded / torch.norm(embedded, dim=1, keepdim=True).clamp(min=1e-9)

    def arrays(self, input_names: npt.NDArray[np.str_]) -> dict[str, Any]:
        """The weights as ``voice.py`` reads them (``input_names``: the frame inputs they read)."""
        saved: dict[str, Any] = {
            "frame_inputs": input_names,
            "layers": np.array(len(self.convolutions)),
            "mean": self.mean.numpy().astype(np.float32),
            "scale": self.scale.numpy().astype(np.float32),
            "dense_weight": self.dense.weight.detach().numpy().T.astype(np.float32),
            "dense_bias": self.dense.bias.detach().numpy().astype(np.float32),
        }
        for index, convolution in enumerate(self.convolutions):
            saved[f"conv{index}_weight"] = convolution.weight.detach().numpy().astype(np.float32)
            saved[f"conv{index}_bias"] = convolution.bias.detach().numpy().astype(np.float32)
            saved[f"conv{index}_dilation"] = np.array(convolution.dilation[0])
        return saved


# Fitting


def targets(teacher: Teacher, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The teacher's embedding of each clip's first ``CROPS`` frames: clips x crops x 256."""
    result = np.zeros((len(audio), len(CROPS), 256), dtype=np.float32)
    for crop_index, frames in enumerate(CROPS):
        for start in range(0, len(audio), 256):
            batch = audio[start : start + 256, : frames * FRAME]
            result[start : start + 256, crop_index] = teacher(batch).numpy()
    return result


def fit(
    inputs: npt.NDArray[np.float32],
    wanted: npt.NDArray[np.float32],
    *,
    epochs: int,
    seed: int,
    channels: int,
) -> Student:
    """The student, fitted to the teacher's embeddings of the same stretches (cosine distance)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    flat = inputs.reshape(-1, inputs.shape[2])
    student = Student(
        inputs.shape[2],
        channels,
        wanted.shape[2],
        torch.from_numpy(flat.mean(axis=0)).float(),
        torch.from_numpy(flat.std(axis=0) + 1e-3).float(),
    )
    optimiser = torch.optim.AdamW(student.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=3e-3, total_steps=epochs * len(CROPS) * math.ceil(len(inputs) / 64)
    )
    data = torch.from_numpy(inputs)
    goal = torch.from_numpy(wanted)
    for epoch in range(epochs):
        began, total, batches = time.perf_counter(), 0.0, 0
        student.train()
        for crop_index in torch.randperm(len(CROPS), generator=generator).tolist():
            frames = CROPS[crop_index]
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(order), 64):
                picked = order[start : start + 64]
                predicted = student(data[picked, :frames])
                loss = (1.0 - (predicted * goal[picked, crop_index]).sum(dim=1)).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                total, batches = total + float(loss.detach()), batches + 1
        print(
            f"epoch {epoch + 1}: cosine distance {total / batches:.4f} ({time.perf_counter() - began:.1f} s)",
            flush=True,
        )
    student.eval()
    return student


def main() -> None:
    """Teach the student; write its weights (and the teacher's view of the trials)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--trials", type=Path, help="also write the teacher's embeddings of these clips")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--check", type=Path, help="write the student's embeddings of the first clips here")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    torch.use_deterministic_algorithms(True)
    teacher = Teacher(args.teacher)
    with np.load(args.dataset) as saved:
        inputs, audio = saved["inputs"].astype(np.float32), saved["audio"].astype(np.float32)
        input_names = saved["frame_inputs"]
    began = time.perf_counter()
    wanted = targets(teacher, audio)
    print(
        f"teacher: {len(audio)} clips x {len(CROPS)} stretches in {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    if args.trials is not None:
        with np.load(args.trials) as saved:
            clips, lengths = saved["audio"].astype(np.float32), saved["lengths"]
        ends = np.cumsum(lengths)
        embedded = np.stack(
            [
                teacher(clips[None, end - length : end]).numpy()[0]
                for end, length in zip(ends, lengths, strict=False)
            ]
        )
        np.save(args.trials.with_suffix(".teacher.npy"), embedded)
    student = fit(inputs, wanted, epochs=args.epochs, seed=args.seed, channels=args.channels)
    np.savez(args.model, **student.arrays(input_names))
    if args.check is not None:  # for the numpy network to be checked against
        with torch.no_grad():
            np.save(args.check, student(torch.from_numpy(inputs[:CHECKED, : CROPS[1]])).numpy())
    print(f"wrote {args.model}")


if __name__ == "__main__":
    main()
