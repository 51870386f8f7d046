"""Start (or reuse) the dev Home Assistant and set it up for a first call: ``script/develop`` runs it.

    python tools/dev_onboard.py --dir .dev --port 8123 --speech "$(python harness/speech_servers.py start)"

Starts ``hass -c DIR/config`` in the background (its pid in ``DIR/hass.pid``, its log in
``DIR/hass.log``) unless the recorded one still serves, then, through HA's API (``dev_ha``,
shared with the browser test): onboards it with the dev owner (or logs in), adds HA's ``wyoming``
integration for the local STT and TTS servers, the Hold Slayer demo line hearing and speaking
through them, and a "Hold Slayer" dashboard with the card. Prints the dashboard's URL (and its
progress on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dev_ha.process import HassError, prepare_config, serving, start_hass, url_for, wait_ready
from dev_ha.provision import ProvisionError, provision


def _say(text: str) -> None:
    """Progress, on stderr: stdout carries only the dashboard's URL."""
    print(text, file=sys.stderr, flush=True)


def _recorded_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process lives."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def ensure_hass(dev: Path, port: int) -> str:
    """The dev HA serving on ``port``: the recorded one, or one started now; its URL."""
    url = url_for(port)
    pid_file, log = dev / "hass.pid", dev / "hass.log"
    if _recorded_pid(pid_file) is not None:
        _say(f"Home Assistant: reusing the running one on {url}")
        wait_ready(url, None, log)  # it may still be starting
        return url
    if serving(url):
        raise HassError(f"something else serves {url}: stop it, or give --port")
    prepare_config(dev / "config", port)
    proc = start_hass(dev / "config", log)
    pid_file.write_text(str(proc.pid))
    _say(f"Home Assistant: starting on {url} (log: {log})")
    wait_ready(url, proc, log)
    return url


def main(argv: list[str] | None = None) -> int:
    """Start or reuse HA, set it up, print the summary; 1 with the reason when a step fails."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(".dev"), help="state: config/, hass.pid, hass.log")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--user", default="dev")
    parser.add_argument("--password", default="holdslayer")
    parser.add_argument("--speech", required=True, help="harness/speech_servers.py start's JSON")
    args = parser.parse_args(argv)
    speech = json.loads(args.speech)
    servers = {kind: (speech[kind]["host"], int(speech[kind]["port"])) for kind in ("stt", "tts")}
    args.dir.mkdir(parents=True, exist_ok=True)
    try:
        url = ensure_hass(args.dir, args.port)
        setup = asyncio.run(provision(url, args.user, args.password, servers))
    except (HassError, ProvisionError) as err:
        print(f"\n{err}", file=sys.stderr)
        return 1
    _say(f"Owner {args.user!r}: {'created (onboarded)' if setup.onboarded else 'logged in'}")
    _say(f"Speech: {setup.stt_entity} and {setup.tts_entity} (HA's wyoming integration)")
    _say(f"Demo line: config entry {setup.line_entry_id}, hearing and speaking through them")
    print(setup.dashboard_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
