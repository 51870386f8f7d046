"""Train the voice signature; write custom_components/hold_slayer/audio/voice.npz.

    script/train-voice [--clips 6000] [--seed 7] [--epochs 30] [--validation]

Three steps. Here (the project's venv): talk of every voice source that is not held out
(``harness/speakers.py``), each clip down its own wide telephone line, turned into the hold
classifier's frame inputs by the integration's own code. In the training venv
(``tools/fit_voice.py``, PyTorch on the CPU): the teacher's embeddings of the same clips and the
student's fit. Here again: the shipped numpy network judged on trials of the held-out sources
(the company's voice heard before, then that voice again or a person), beside the teacher.

``--validation``: leave out the validation fold (``harness.sources.VALIDATION``), judge on its
trials, and keep that model under ``.cache/train`` (what the hold monitor is tuned with).
The teacher is read from the PyPI wheel ``resemblyzer`` (``script/train-voice`` fetches it into
``.cache/train``); nothing of it ships. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.standalone import without_home_assistant  # noqa: E402

without_home_assistant()

from custom_components.hold_slayer.audio.features import FRAME_INPUT_NAMES  # noqa: E402
from custom_components.hold_slayer.audio.voice import VOICE_PATH, VoiceSignature, audio_inputs  # noqa: E402
from harness.channel import Pcm  # noqa: E402
from harness.report import write_section  # noqa: E402
from harness.sources import VALIDATION, VOICES, Kind, Source, by_name  # noqa: E402
from harness.speakers import PROBE_SECONDS, Trial, check_ranking, probe, ranking, talk, trials  # noqa: E402

CLIP_SECONDS: Final = 3.0
CHECK_FRAMES: Final = 75  # of the clips checked against torch (fit_voice.CROPS[1])
PROBES: Final = (1.0, 1.5, 2.5)  # seconds of a voice on the hold, from its first word
TRAIN_PYTHON: Final = ROOT / ".venvs" / "train" / "bin" / "python"
WORK: Final = ROOT / ".cache" / "train"
TEACHER: Final = WORK / "ge2e-pretrained.pt"

Floats = npt.NDArray[np.float64]


def split(validation: bool) -> tuple[list[Source], list[Source], list[Source]]:
    """Training voices, and the announcers and people of the trials it is judged on."""
    if validation:
        judged = [by_name(name) for name in VALIDATION if by_name(name).kind is not Kind.MUSIC]
        training = [source for source in VOICES if not source.held_out and source.name not in VALIDATION]
    else:
        judged = [source for source in VOICES if source.held_out]
        training = [source for source in VOICES if not source.held_out]
    announcers = [source for source in judged if source.kind is not Kind.LIVE_VOICE]
    return training, announcers, judged


def dataset(sources: Sequence[Source], count: int, seed: int, path: Path) -> None:
    """Talk of the training voices: its audio (for the teacher) and frame inputs (for the student)."""
    started = time.monotonic()
    audio, inputs = [], []
    for clip, _ in talk(sources, count, CLIP_SECONDS, seed):
        audio.append(clip.astype(np.float32))
        inputs.append(audio_inputs(clip).astype(np.float32))
    np.savez(path, audio=np.stack(audio), inputs=np.stack(inputs), frame_inputs=np.array(FRAME_INPUT_NAMES))
    print(
        f"training talk: {count} clips of {CLIP_SECONDS:.0f} s in {time.monotonic() - started:.0f} s",
        flush=True,
    )


def trial_clips(judged: list[Trial]) -> list[Pcm]:
    """Each trial's menu, then its voice's probe of every length in ``PROBES``."""
    return [
        clip
        for trial in judged
        for clip in (trial.menu, *(probe(trial.voice, seconds) for seconds in PROBES))
    ]


def save_clips(clips: list[Pcm], path: Path) -> None:
    """Clips of any length in one file: end to end, with their lengths."""
    np.savez(
        path, audio=np.concatenate(clips).astype(np.float32), lengths=np.array([len(clip) for clip in clips])
    )


def rankings(judged: list[Trial], signatures: Floats) -> dict[float, float]:
    """AUC of menu-to-voice similarity (the company's voice again above a person) by probe length."""
    per_trial = signatures.reshape(len(judged), 1 + len(PROBES), -1)
    result = {}
    for index, seconds in enumerate(PROBES, 1):
        similarity = np.sum(per_trial[:, 0] * per_trial[:, index], axis=1)
        same = [float(value) for value, trial in zip(similarity, judged, strict=True) if trial.same]
        other = [float(value) for value, trial in zip(similarity, judged, strict=True) if not trial.same]
        result[seconds] = ranking(same, other)
    return result


def check_numpy(signature: VoiceSignature, data: Path, torch_path: Path) -> None:
    """The numpy network must compute what torch fitted: the same embeddings, op for op."""
    torch_says = np.load(torch_path)
    with np.load(data) as saved:
        inputs = saved["inputs"][: len(torch_says), :CHECK_FRAMES].astype(np.float64)
    numpy_says = np.stack([signature(clip) for clip in inputs])
    difference = float(np.max(np.abs(torch_says - numpy_says)))
    if difference > 1e-4:
        raise SystemExit(f"numpy and torch disagree by {difference:.2g}: voice.py no longer mirrors the fit")
    print(f"numpy reproduces torch's embeddings within {difference:.1g}")


def main() -> None:
    """Make the talk, fit, judge on trials of voices the fit never heard."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--clips", type=int, default=6000, help=f"training clips ({CLIP_SECONDS:.0f} s of talk each)"
    )
    parser.add_argument(
        "--trials", type=int, default=400, help="trials judged (half the company's voice again)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument(
        "--validation", action="store_true", help="leave out and judge on harness.sources.VALIDATION"
    )
    parser.add_argument(
        "--reuse-data", action="store_true", help="fit on the last training talk of this seed"
    )
    args = parser.parse_args()
    if not TEACHER.exists() or not TRAIN_PYTHON.exists():
        raise SystemExit("the teacher or the training venv is missing: run script/train-voice")
    training, announcers, people = split(args.validation)
    fold = "validation" if args.validation else "all"
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / f"voice-talk-{fold}-{args.seed}.npz"
    if not (args.reuse_data and data.exists()):
        dataset(training, args.clips, args.seed, data)
    judged = list(trials(args.trials, args.seed + 1, announcers=announcers, people=people))
    clips = trial_clips(judged)
    trial_path = WORK / f"voice-trials-{fold}-{args.seed}.npz"
    save_clips(clips, trial_path)
    out = VOICE_PATH if not args.validation else WORK / "voice-validation.npz"
    started, load = time.monotonic(), os.getloadavg()[0]
    subprocess.run(  # noqa: S603 - our own script in our own venv
        [str(TRAIN_PYTHON), str(ROOT / "tools" / "fit_voice.py"), str(out), str(data),
         "--teacher", str(TEACHER), "--trials", str(trial_path), "--epochs", str(args.epochs),
         "--seed", str(args.seed), "--channels", str(args.channels),
         "--check", str(WORK / "voice-check.npy")],
        check=True,
    )  # fmt: skip
    signature = VoiceSignature.load(out)
    check_numpy(signature, data, WORK / "voice-check.npy")
    student = rankings(judged, np.stack([signature(audio_inputs(clip)) for clip in clips]))
    teacher = rankings(judged, np.load(trial_path.with_suffix(".teacher.npy")).astype(np.float64))
    names = ", ".join(source.name for source in people)
    lines = [
        *textwrap.wrap(
            f"Trials of voices no fit heard ({names}): the company's voice (a menu prompt of"
            " 3-8 s), then a voice that is that voice again or a person of another source, all down"
            f" one wide line; {len(judged)} trials, half of each. The share of (company's voice,"
            " person) pairs whose menu similarities rank the right way round (AUC), by how much of"
            " the voice is heard:",
            width=100,
        ),
        "",
        "| signature | " + " | ".join(f"{seconds:.1f} s" for seconds in PROBES) + " |",
        "|---|" + "---|" * len(PROBES),
        "| ours (numpy, `audio/voice.npz`) | " + " | ".join(f"{student[s]:.3f}" for s in PROBES) + " |",
        "| the teacher (GE2E, 16 kHz) | " + " | ".join(f"{teacher[s]:.3f}" for s in PROBES) + " |",
    ]
    if not args.validation:
        lines += [
            "",
            "| measurement | result |",
            "|---|---|",
            "| fixed check set (`harness.speakers.check_trials`, CI's sources) |"
            f" AUC {check_ranking():.4f} at {PROBE_SECONDS} s |",
            f"| weights | {VOICE_PATH.stat().st_size / 1024:.0f} KB |",
        ]
    print("\n".join(lines))
    if not args.validation:
        write_section(
            "Voice signature",
            "script/train-voice " + " ".join(sys.argv[1:]),
            f"{os.cpu_count()} cores, load {load:.1f} at the fit;"
            f" fit took {time.monotonic() - started:.0f} s",
            lines,
        )


if __name__ == "__main__":
    main()
