"""Train the classifier's window network; write custom_components/hold_slayer/audio/model.npz.

    script/train-classifier [--clips 2500] [--seed 7] [--epochs 40] [--distil 7,8]
        [--leave-out SOURCE | --validation]

Three steps. Here (the project's venv): labelled clips from every source that is not held out
(``harness/sources.py``), down wide telephone lines (``harness/channel.py``), turned into the
model's frame inputs and window features by the integration's own code. In the training venv
(``tools/fit_network.py``, PyTorch on the CPU): the fit. Here again: the shipped numpy model
scored on clips of the held-out sources, which it never heard.

``--leave-out SOURCE``: also leave that source out of training and score on it alone (one fold
of the leave-one-source-out figures; the shipped model is not replaced). ``--validation``: leave
out the validation fold (``harness.sources.VALIDATION``) and keep that model under
``.cache/train``: ``bench/audio.py --tune`` tunes the hold monitor with it on holds of those
sources. ``--loso``: every training source in turn, smaller fits (``--clips 300 --epochs 15``
suit), the table written to docs/performance.md ("Audio: leave one source out").
``--distil 7,8``: fit one network per seed (each on its own clips, kept under ``.cache/train``
and reused with ``--reuse-data``), then the model itself on all their clips with the fits'
averaged probabilities as its targets: what several fits agree on, at the cost of one.
Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.standalone import without_home_assistant  # noqa: E402

without_home_assistant()

from custom_components.hold_slayer.audio.classifier import STEP_FRAMES, WINDOW_FRAMES  # noqa: E402
from custom_components.hold_slayer.audio.features import (  # noqa: E402
    FRAME_INPUT_NAMES,
    WINDOW_FEATURE_NAMES,
    frame_features,
    frame_inputs,
    window_features,
)
from custom_components.hold_slayer.audio.network import NETWORK_PATH, WindowNetwork  # noqa: E402
from custom_components.hold_slayer.audio.tones import FRAME  # noqa: E402
from harness.labelled_audio import LABELS, Clip, clips  # noqa: E402
from harness.report import write_section  # noqa: E402
from harness.sources import MUSIC, VALIDATION, VOICES, Source, by_name, fold_model, fold_name  # noqa: E402

CLIP_SECONDS = 4.0
FIRST_END = 2 * STEP_FRAMES  # the classifier's first decision: 200 ms into a call
TRAIN_PYTHON = ROOT / ".venvs" / "train" / "bin" / "python"
WORK = ROOT / ".cache" / "train"

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Dataset:
    """Clips as the network sees them: frame inputs, window features at each decision, label."""

    inputs: npt.NDArray[np.float32]  # clips x frames x frame inputs
    windows: npt.NDArray[np.float32]  # clips x decisions x window features
    ends: Ints  # each decision's window end (frame index, exclusive)
    labels: Ints  # clips x decisions: index into LABELS of what each window carries now
    music: tuple[str, ...]
    voices: tuple[str, ...]


def decision_ends(frames: int) -> Ints:
    """Where the classifier decides within a clip: every 100 ms from 200 ms."""
    return np.arange(FIRST_END, frames + 1, STEP_FRAMES)


def dataset(made: Iterable[Clip]) -> Dataset:
    """Frame inputs and window features of every clip (the integration's own feature code)."""
    inputs, windows, labels, music, voices = [], [], [], [], []
    ends = decision_ends(round(CLIP_SECONDS * 50))
    for clip in made:
        frames, _ = frame_features(clip.audio[: len(clip.audio) // FRAME * FRAME].reshape(-1, FRAME))
        inputs.append(frame_inputs(frames).astype(np.float32))
        windows.append(
            np.stack([window_features(frames[max(0, end - WINDOW_FRAMES) : end]) for end in ends]).astype(
                np.float32
            )
        )
        labels.append([LABELS.index(clip.window_label(int(end))) for end in ends])
        music.append(clip.music)
        voices.append(clip.voice)
    return Dataset(np.stack(inputs), np.stack(windows), ends, np.array(labels), tuple(music), tuple(voices))


def network_probabilities(network: WindowNetwork, data: Dataset) -> Floats:
    """Probabilities (clips x decisions x labels) as the streaming classifier computes them.

    The first frame stands in for the history before a clip, as it does at the start of a call.
    """
    result = []
    for clip in range(len(data.labels)):
        inputs, windows = data.inputs[clip], data.windows[clip]
        padded = np.vstack((np.repeat(inputs[:1], network.context, axis=0), inputs)).astype(np.float64)
        embedded = network.embed(padded)
        result.append(
            np.stack(
                [
                    network.probabilities(
                        embedded[max(0, int(end) - WINDOW_FRAMES) : end], window.astype(np.float64)
                    )
                    for end, window in zip(data.ends, list(windows), strict=True)
                ]
            )
        )
    return np.stack(result)


SETTLED: Final = (WINDOW_FRAMES - FIRST_END) // STEP_FRAMES  # decisions before 1 s is heard


def score(network: WindowNetwork, data: Dataset, title: str, sources: Sequence[str] = ()) -> dict[str, float]:
    """Print and return the share of decisions right from 1 s on, in all and per label.

    ``sources``: count only the clips made of one of them.
    """
    order = [LABELS.index(label) for label in network.labels]
    probabilities = network_probabilities(network, data)
    predicted = np.array(order)[np.argmax(probabilities, axis=-1)][:, SETTLED:]
    right = predicted == data.labels[:, SETTLED:]
    chosen = np.array(
        [
            not sources or music in sources or voice in sources
            for music, voice in zip(data.music, data.voices, strict=True)
        ]
    )
    result = {"all": float(np.mean(right[chosen]))}
    print(f"{title}: {right[chosen].size} decisions from 1 s on, {result['all']:.4f} right (by window label)")
    for index, label in enumerate(LABELS):
        mask = chosen[:, None] & (data.labels[:, SETTLED:] == index)
        if mask.any():
            result[label] = float(np.mean(right[mask]))
            print(f"  {label:<18} {result[label]:.3f} ({mask.sum()} decisions)")
    return result


def held_out(leave_out: Sequence[str]) -> tuple[list[Source], list[Source], list[Source], list[Source]]:
    """(training music, training voices, test music, test voices)."""
    if not leave_out:
        return (
            [source for source in MUSIC if not source.held_out],
            [source for source in VOICES if not source.held_out],
            [source for source in MUSIC if source.held_out],
            [source for source in VOICES if source.held_out],
        )
    left = [by_name(name) for name in leave_out]
    music = [source for source in MUSIC if not source.held_out and source not in left]
    voices = [source for source in VOICES if not source.held_out and source not in left]
    # Scored on the left-out sources, the other half of a clip from a training source when none
    # of that kind was left out.
    left_music = [source for source in left if source in MUSIC]
    left_voices = [source for source in left if source in VOICES]
    return music, voices, left_music or music, left_voices or voices


def dataset_path(seed: int, leave_out: Sequence[str]) -> Path:
    """Where a training set is kept for the training venv (and for ``--reuse-data``)."""
    return WORK / f"dataset-{seed}-{fold_name(leave_out)}.npz"


def saved_dataset(path: Path) -> Dataset:
    """A training set written by :func:`fit` (no source names: training needs none)."""
    with np.load(path, allow_pickle=False) as data:
        return Dataset(data["inputs"], data["windows"], data["ends"], data["labels"], (), ())


def teacher_path(seed: int, leave_out: Sequence[str]) -> Path:
    """Where a fit that ``--distil`` learns from is kept."""
    return WORK / f"teacher-{seed}-{fold_name(leave_out)}.npz"


def save_dataset(data: Dataset, path: Path) -> None:
    """Write a training set for the training venv."""
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        inputs=data.inputs,
        windows=data.windows,
        ends=data.ends,
        labels=data.labels,
        label_names=np.array(LABELS),
        frame_input_names=np.array(FRAME_INPUT_NAMES),
        window_feature_names=np.array(WINDOW_FEATURE_NAMES),
    )


def fit(
    data: Dataset, paths: Sequence[Path], out: Path, *, epochs: int, seed: int, teachers: Sequence[Path] = ()
) -> None:
    """Fit in the training venv (``tools/fit_network.py``) on the saved sets ``paths``.

    ``data`` is the first of them (numpy is checked against torch on it); ``teachers``: distil them.
    """
    if not TRAIN_PYTHON.exists():
        raise SystemExit(
            f"{TRAIN_PYTHON} is missing: run script/train-classifier (it makes the training venv)"
        )
    taught = ["--teachers", *map(str, teachers)] if teachers else []
    subprocess.run(  # noqa: S603 - our own script in our own venv
        [str(TRAIN_PYTHON), str(ROOT / "tools" / "fit_network.py"), str(out), *map(str, paths),
         "--epochs", str(epochs), "--seed", str(seed), "--check", str(WORK / "torch-check.npy"), *taught],
        check=True,
    )  # fmt: skip
    # The numpy network must compute what torch fitted: the same probabilities, op for op.
    torch_says = np.load(WORK / "torch-check.npy")
    numpy_says = network_probabilities(WindowNetwork.load(out), _first(data, len(torch_says)))
    difference = float(np.max(np.abs(torch_says - numpy_says)))
    if difference > 1e-3:
        raise SystemExit(
            f"numpy and torch disagree by {difference:.2g}: network.py no longer mirrors the fit"
        )
    print(f"numpy reproduces torch's probabilities within {difference:.1g}")


def _first(data: Dataset, count: int) -> Dataset:
    return Dataset(
        data.inputs[:count], data.windows[:count], data.ends, data.labels[:count], data.music, data.voices
    )


def run(
    clips_per_label: int,
    seed: int,
    epochs: int,
    leave_out: Sequence[str] = (),
    *,
    reuse: bool = False,
    distil: Sequence[int] = (),
) -> dict[str, float]:
    """Make the data (or take the last set, ``reuse``), fit, score on what was held out; the scores."""
    train_music, train_voices, test_music, test_voices = held_out(leave_out)

    def training_set(seed: int) -> tuple[Dataset, Path]:
        started = time.monotonic()
        path = dataset_path(seed, leave_out)
        if reuse and path.exists():
            made = saved_dataset(path)
        else:
            made = dataset(
                clips(
                    clips_per_label, CLIP_SECONDS, seed, music=train_music, voices=train_voices, training=True
                )
            )
            save_dataset(made, path)
        print(f"training data: {len(made.labels)} clips in {time.monotonic() - started:.0f} s", flush=True)
        return made, path

    out = NETWORK_PATH if not leave_out else fold_model(leave_out)
    if distil:
        sets = [training_set(teacher_seed) for teacher_seed in distil]
        teachers = [teacher_path(teacher_seed, leave_out) for teacher_seed in distil]
        for teacher_seed, (made, path), kept in zip(distil, sets, teachers, strict=True):
            if not (reuse and kept.exists()):
                fit(made, [path], kept, epochs=epochs, seed=teacher_seed)
        fit(sets[0][0], [path for _, path in sets], out, epochs=epochs, seed=seed, teachers=teachers)
    else:
        training, path = training_set(seed)
        fit(training, [path], out, epochs=epochs, seed=seed)
    network = WindowNetwork.load(out)
    checks = max(50, clips_per_label // 5)
    test = dataset(
        clips(checks, CLIP_SECONDS, seed + 1, music=test_music, voices=test_voices, training=False)
    )
    title = ", ".join(leave_out) or "the held-out sources"
    return score(network, test, f"held out ({title})", leave_out)


def leave_one_source_out(clips_per_label: int, seed: int, epochs: int) -> list[str]:
    """Every training source left out in turn; the table rows."""
    rows = [
        "| left out | kind | decisions right | music | speech | speech over music |",
        "|---|---|---|---|---|---|",
    ]
    for source in [source for source in MUSIC + VOICES if not source.held_out]:
        result = run(clips_per_label, seed, epochs, (source.name,))
        cells = [f"{100 * result[label]:.1f} %" if label in result else "" for label in LABELS[1:]]
        rows.append(
            f"| `{source.name}` | {source.kind.value} | {100 * result['all']:.1f} % | {' | '.join(cells)} |"
        )
    return rows


def main() -> None:
    """Train the shipped model, one fold, or every fold."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=2500, help="training clips per label (4 s each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--leave-out", metavar="SOURCE", help="a training source to leave out and score on")
    parser.add_argument("--loso", action="store_true", help="leave each training source out in turn")
    parser.add_argument(
        "--validation",
        action="store_true",
        help="leave out harness.sources.VALIDATION: the model the hold monitor is tuned with",
    )
    parser.add_argument("--reuse-data", action="store_true", help="fit on the last training set of this seed")
    parser.add_argument(
        "--distil",
        metavar="SEEDS",
        default="",
        help="comma-separated seeds: fit one network each, then distil them into the model",
    )
    args = parser.parse_args()
    if not args.loso:
        leave_out = VALIDATION if args.validation else (args.leave_out,) if args.leave_out else ()
        distil = tuple(int(seed) for seed in args.distil.split(",") if seed)
        run(args.clips, args.seed, args.epochs, leave_out, reuse=args.reuse_data, distil=distil)
        return
    started, load = time.monotonic(), os.getloadavg()[0]
    rows = leave_one_source_out(args.clips, args.seed, args.epochs)
    lines = [
        "Each training source left out of a smaller fit in turn and scored alone (its clips: music and",
        "speech over music for a music source; speech and speech over music for a voice), decisions",
        "from 1 s into 4 s clips on wide lines, against the window label (a voice that has paused is",
        "the music or the line's noise). The fits are small"
        f" ({args.clips} clips a label, {args.epochs} epochs, where the",
        "shipped model has 2,500 and 40), so read the rows against each other, not against the",
        "shipped model's held-out figures. What a source no model has heard costs:",
        "",
        *rows,
    ]
    print("\n".join(lines))
    write_section(
        "Audio: leave one source out",
        "script/train-classifier " + " ".join(sys.argv[1:]),
        f"{os.cpu_count()} cores, load {load:.1f} at the start; run took {time.monotonic() - started:.0f} s",
        lines,
    )


if __name__ == "__main__":
    main()
