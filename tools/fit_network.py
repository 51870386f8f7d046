"""Fit the classifier's window network with PyTorch on the CPU: the training half of the pipeline.

    .venvs/train/bin/python tools/fit_network.py MODEL.npz DATASET.npz [DATASET.npz ...]
        [--teachers TEACHER.npz ...] [--epochs 40] [--seed 7]

With ``--teachers``, a distillation: each window's target is the teachers' probabilities
averaged (fitted networks of the same recipe and other seeds, each on its own data), not its
label, so one network of the shipped size learns what several fits agree on.

Run by ``tools/train_classifier.py`` (which makes the dataset in the project's venv and scores
the result in numpy); it needs only numpy and torch, and imports nothing of the project, so it
runs in the training venv (``script/train-classifier`` makes it: Python 3.11 and the CPU build of
torch). The network mirrors ``custom_components/hold_slayer/audio/network.py`` op for op.
Deterministic for a seed: one thread order, deterministic algorithms.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

DROPOUT = 0.2  # of the pooled window and of the hidden units, in training only
MEL_SHAPE = 20  # the first inputs are the mel spectrum's shape (features.FRAME_INPUT_NAMES)


def masked(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """SpecAugment for training: per clip, up to 4 adjacent mel bands and up to two 0.2 s spans masked.

    A band the line cut off, a codec's hole, a lost burst: the model must not lean on any one.
    Inputs are standardised, so a masked value is the training set's mean (0).
    """
    clips, frames, width = inputs.shape
    starts = torch.randint(0, MEL_SHAPE - 4, (clips, 1), generator=generator)
    widths = torch.randint(0, 5, (clips, 1), generator=generator)
    bands = torch.arange(width)[None, :]
    band_mask = (bands >= starts) & (bands < starts + widths) & (bands < MEL_SHAPE)  # clips x inputs
    spans = torch.randint(0, frames - 10, (clips, 2, 1), generator=generator)
    lengths = torch.randint(0, 11, (clips, 2, 1), generator=generator)
    steps = torch.arange(frames)[None, None, :]
    time_mask = ((steps >= spans) & (steps < spans + lengths)).any(dim=1)  # clips x frames
    return inputs.masked_fill(band_mask[:, None, :] | time_mask[:, :, None], 0.0)


class WindowNetwork(nn.Module):  # type: ignore[misc]
    """Convolutions along time, mean and spread pooling over each window, two dense layers."""

    def __init__(
        self,
        inputs: int,
        window_features: int,
        labels: int,
        *,
        channels: int,
        kernels: tuple[int, ...],
        dilations: tuple[int, ...],
        hidden: int,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for kernel, dilation in zip(kernels, dilations, strict=True):
            layers += [nn.Conv1d(width, channels, kernel, dilation=dilation), nn.ReLU()]
            width = channels
        self.convolutions = nn.Sequential(*layers)
        self.context = sum(
            (kernel - 1) * dilation for kernel, dilation in zip(kernels, dilations, strict=True)
        )
        self.dropout = nn.Dropout(DROPOUT)
        self.hidden = nn.Linear(2 * channels + window_features, hidden)
        self.output = nn.Linear(hidden, labels)
        self.dilations = dilations

    def forward(
        self, inputs: torch.Tensor, windows: torch.Tensor, ends: torch.Tensor, span: int
    ) -> torch.Tensor:
        """Logits (B x K x labels) of inputs B x T x F (standardised), window features B x K x W."""
        padded = torch.cat((inputs[:, :1].expand(-1, self.context, -1), inputs), dim=1)
        embedded = self.convolutions(padded.transpose(1, 2)).transpose(1, 2)  # B x T x C
        zero = torch.zeros_like(embedded[:, :1])
        sums = torch.cat((zero, torch.cumsum(embedded, dim=1)), dim=1)
        squares = torch.cat((zero, torch.cumsum(embedded**2, dim=1)), dim=1)
        starts = torch.clamp(ends - span, min=0)
        count = (ends - starts).to(embedded.dtype)[None, :, None]
        mean = (sums[:, ends] - sums[:, starts]) / count
        spread = torch.sqrt(
            torch.clamp((squares[:, ends] - squares[:, starts]) / count - mean**2, min=0) + 1e-6
        )
        pooled = torch.cat((mean, spread, windows), dim=-1)
        result: torch.Tensor = self.output(self.dropout(torch.relu(self.hidden(self.dropout(pooled)))))
        return result


def train(
    network: WindowNetwork,
    tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    window: int,
    seed: int,
    soft: torch.Tensor | None = None,
) -> None:
    """AdamW with a one-cycle schedule over shuffled batches of 64 clips; every window a target.

    ``soft`` (clips x windows x labels): the teachers' probabilities, the targets instead of the labels.
    """
    x, w, y, ends = tensors
    batches = (len(x) + 63) // 64
    optimiser = torch.optim.AdamW(network.parameters(), lr=3e-3, weight_decay=1e-2)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=epochs * batches)
    loss_of = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        started, total, right = time.monotonic(), 0.0, 0
        order = torch.randperm(len(x), generator=generator)
        for batch in range(batches):
            chosen = order[batch * 64 : (batch + 1) * 64]
            logits = network(masked(x[chosen], generator), w[chosen], ends, window)
            target = y[chosen]  # each window's label (what the line carries at its end)
            goal = target.reshape(-1) if soft is None else soft[chosen].reshape(-1, logits.shape[-1])
            loss = loss_of(logits.reshape(-1, logits.shape[-1]), goal)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(chosen)
            right += int((logits.argmax(-1) == target).sum())
        share = right / (len(x) * len(ends))
        print(
            f"epoch {epoch + 1:2}: loss {total / len(x):.4f}, windows right {share:.4f}"
            f" ({time.monotonic() - started:.1f} s)",
            flush=True,
        )


def weights(network: WindowNetwork) -> dict[str, Any]:
    """The fitted layers in network.py's layout (dense weights as inputs x outputs)."""
    arrays: dict[str, Any] = {"dilations": np.array(network.dilations)}
    convolutions = [module for module in network.convolutions if isinstance(module, nn.Conv1d)]
    for index, layer in enumerate(convolutions):
        arrays[f"conv{index}_weight"] = layer.weight.detach().numpy()
        arrays[f"conv{index}_bias"] = layer.bias.detach().numpy()
    arrays["hidden_weight"] = network.hidden.weight.detach().numpy().T
    arrays["hidden_bias"] = network.hidden.bias.detach().numpy()
    arrays["output_weight"] = network.output.weight.detach().numpy().T
    arrays["output_bias"] = network.output.bias.detach().numpy()
    return arrays


def teacher(path: Path, window_features: int, labels: int) -> tuple[WindowNetwork, dict[str, Any]]:
    """A fitted network read back from its weights file (the inverse of :func:`weights`)."""
    with np.load(path, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    kernels = []
    index = 0
    while f"conv{index}_weight" in arrays:
        kernels.append(arrays[f"conv{index}_weight"].shape[-1])
        index += 1
    network = WindowNetwork(
        arrays["conv0_weight"].shape[1],
        window_features,
        labels,
        channels=arrays["conv0_weight"].shape[0],
        kernels=tuple(kernels),
        dilations=tuple(int(dilation) for dilation in arrays["dilations"]),
        hidden=arrays["hidden_bias"].shape[0],
    )
    convolutions = [module for module in network.convolutions if isinstance(module, nn.Conv1d)]
    with torch.no_grad():
        for index, layer in enumerate(convolutions):
            layer.weight.copy_(torch.from_numpy(arrays[f"conv{index}_weight"]))
            layer.bias.copy_(torch.from_numpy(arrays[f"conv{index}_bias"]))
        network.hidden.weight.copy_(torch.from_numpy(arrays["hidden_weight"].T))
        network.hidden.bias.copy_(torch.from_numpy(arrays["hidden_bias"]))
        network.output.weight.copy_(torch.from_numpy(arrays["output_weight"].T))
        network.output.bias.copy_(torch.from_numpy(arrays["output_bias"]))
    network.eval()
    if any(not np.array_equal(value, arrays[name]) for name, value in weights(network).items()):
        raise SystemExit(f"{path}: the weights read back are not the ones saved")
    return network, arrays


def taught(
    paths: list[Path],
    inputs: npt.NDArray[np.float32],
    windows: npt.NDArray[np.float32],
    ends: torch.Tensor,
    window: int,
    labels: int,
) -> torch.Tensor:
    """The teachers' probabilities averaged (clips x windows x labels), each on its own scaling."""
    total = torch.zeros((len(inputs), len(ends), labels))
    for path in paths:
        network, arrays = teacher(path, windows.shape[-1], labels)
        with torch.no_grad():
            for start in range(0, len(inputs), 256):
                x = torch.tensor(
                    (inputs[start : start + 256] - arrays["input_mean"]) / arrays["input_scale"],
                    dtype=torch.float32,
                )
                w = torch.tensor(
                    (windows[start : start + 256] - arrays["window_mean"]) / arrays["window_scale"],
                    dtype=torch.float32,
                )
                total[start : start + 256] += torch.softmax(network(x, w, ends, window), dim=-1)
        print(f"teacher {path.name}: probabilities of {len(inputs)} clips", flush=True)
    return total / len(paths)


def main() -> None:
    """Read the dataset, fit, write the weights in the layout network.py reads."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path)
    parser.add_argument("datasets", type=Path, nargs="+", help="clips to fit on (several are joined)")
    parser.add_argument("--teachers", type=Path, nargs="*", default=[], help="fitted networks to distil")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--kernels", default="5,3,3,3", help="kernel of each convolution")
    parser.add_argument("--dilations", default="1,2,4,8", help="dilation of each convolution")
    parser.add_argument("--window", type=int, default=50, help="frames pooled per decision")
    parser.add_argument("--check", type=Path, help="write torch's probabilities of the first 16 clips here")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    parts = [np.load(path, allow_pickle=False) for path in args.datasets]
    data = parts[0]
    inputs = np.concatenate([part["inputs"] for part in parts])
    windows = np.concatenate([part["windows"] for part in parts])
    input_mean = inputs.reshape(-1, inputs.shape[-1]).mean(axis=0)
    input_scale = inputs.reshape(-1, inputs.shape[-1]).std(axis=0) + 1e-6
    window_mean = windows.reshape(-1, windows.shape[-1]).mean(axis=0)
    window_scale = windows.reshape(-1, windows.shape[-1]).std(axis=0) + 1e-6
    x = torch.tensor((inputs - input_mean) / input_scale, dtype=torch.float32)
    w = torch.tensor((windows - window_mean) / window_scale, dtype=torch.float32)
    y = torch.tensor(np.concatenate([part["labels"] for part in parts]), dtype=torch.long)
    ends = torch.tensor(data["ends"], dtype=torch.long)
    soft = (
        taught(args.teachers, inputs, windows, ends, args.window, len(data["label_names"]))
        if args.teachers
        else None
    )
    network = WindowNetwork(
        x.shape[-1],
        w.shape[-1],
        len(data["label_names"]),
        channels=args.channels,
        kernels=tuple(int(kernel) for kernel in args.kernels.split(",")),
        dilations=tuple(int(dilation) for dilation in args.dilations.split(",")),
        hidden=args.hidden,
    )
    train(network, (x, w, y, ends), epochs=args.epochs, window=args.window, seed=args.seed, soft=soft)
    network.eval()
    np.savez_compressed(
        args.model,
        labels=data["label_names"],
        frame_inputs=data["frame_input_names"],
        window_features=data["window_feature_names"],
        input_mean=input_mean.astype(np.float32),
        input_scale=input_scale.astype(np.float32),
        window_mean=window_mean.astype(np.float32),
        window_scale=window_scale.astype(np.float32),
        **weights(network),
    )
    if args.check:
        with torch.no_grad():
            check = torch.softmax(network(x[:16], w[:16], ends, args.window), dim=-1)
        np.save(args.check, check.numpy())


if __name__ == "__main__":
    main()
