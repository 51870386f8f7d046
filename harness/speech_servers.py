"""Keep one warm pair of Wyoming speech servers for development (script/develop, script/simulate).

    python harness/speech_servers.py start    # start (or reuse) STT and TTS; prints where, as JSON
    python harness/speech_servers.py status   # where they run, or "stopped"; exit 1 if any is not
    python harness/speech_servers.py stop

State lives in .cache/speech/ (one JSON file per server with its pid and port, and its log).
The servers keep running after this command returns; loading the models is the slow part, so
later runs reuse them. The usual Wyoming ports (10300 STT, 10200 TTS) are taken when free;
another worktree on this machine may hold them, then any free port is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.servers.kamailio import ports_in_use
from harness.servers.wyoming import ROOT, Kind, answers_describe, start_server

STATE = ROOT / ".cache" / "speech"
KINDS: tuple[Kind, ...] = ("stt", "tts")
PREFERRED_PORTS: dict[Kind, int] = {"stt": 10300, "tts": 10200}


def _state_file(kind: Kind) -> Path:
    return STATE / f"{kind}.json"


def _alive(pid: int) -> bool:
    # Reap it if it is our own child (it was started by this process): a zombie is not alive.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(kind: Kind) -> dict[str, Any] | None:
    """The recorded server of ``kind`` if its process lives and it answers ``describe``."""
    try:
        state: dict[str, Any] = json.loads(_state_file(kind).read_text())
    except (OSError, ValueError):
        return None
    if _alive(state["pid"]) and answers_describe(state["host"], state["port"]):
        return state
    return None


def start(kind: Kind) -> dict[str, Any]:
    """Reuse the running server of ``kind`` or start one and record it."""
    if (state := running(kind)) is not None:
        return state
    stop(kind)  # a stale record or a process that no longer answers
    port = PREFERRED_PORTS[kind]
    proc, server = start_server(kind, STATE / kind, None if port in ports_in_use() else port)
    state = {"pid": proc.pid, "host": server.host, "port": server.port}
    _state_file(kind).write_text(json.dumps(state))
    return state


def stop(kind: Kind) -> bool:
    """Stop the recorded server of ``kind``; whether one was running."""
    path = _state_file(kind)
    try:
        pid = json.loads(path.read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return False
    path.unlink(missing_ok=True)
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the command; the exit status says whether both servers are up (start, status)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=("start", "stop", "status"))
    args = parser.parse_args(argv)
    STATE.mkdir(parents=True, exist_ok=True)
    if args.command == "stop":
        for kind in KINDS:
            print(f"{kind}: {'stopped' if stop(kind) else 'was not running'}")
        return 0
    if args.command == "start":
        print(json.dumps({kind: start(kind) for kind in KINDS}))
        return 0
    states = {kind: running(kind) for kind in KINDS}
    print(json.dumps({kind: state or "stopped" for kind, state in states.items()}))
    return 0 if all(states.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
