"""Home Assistant as a subprocess on 127.0.0.1: its config directory, start, readiness, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
INTEGRATION: Final = ROOT / "custom_components" / "hold_slayer"
HOST: Final = "127.0.0.1"
# A cold start loads the frontend, the recorder and every integration on a busy two-core machine.
READY_TIMEOUT: Final = 180.0
STOP_TIMEOUT: Final = 30.0

CONFIGURATION = """\
# Written by dev_ha (script/develop, the browser test). Minimal on purpose: frontend brings the
# UI, onboarding and the config-entry API; logbook and history what the README points to.
homeassistant:
  name: {name}
  time_zone: UTC
  country: US
  unit_system: metric
http:
  server_host: {host}
  server_port: {port}
frontend:
logbook:
history:
logger:
  default: info
  logs:
    custom_components.hold_slayer: debug
"""

# Direct HTTP to the local HA, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HassError(RuntimeError):
    """Home Assistant did not start, or stopped: the message carries the end of its log."""


def hass_binary() -> Path:
    """The ``hass`` of the virtualenv running this code (``.venv`` with HA 2025.4.4)."""
    hass = Path(sys.executable).parent / "hass"
    if not hass.exists():
        raise HassError(f"{hass} is missing: run script/setup")
    return hass


def prepare_config(config_dir: Path, port: int, *, name: str = "Hold Slayer Dev") -> None:
    """A config directory with Hold Slayer linked in; ``configuration.yaml`` if it has none."""
    components = config_dir / "custom_components"
    components.mkdir(parents=True, exist_ok=True)
    link = components / "hold_slayer"
    if (link.is_symlink() or link.exists()) and link.resolve() != INTEGRATION.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(INTEGRATION, target_is_directory=True)
    configuration = config_dir / "configuration.yaml"
    if not configuration.exists():
        configuration.write_text(CONFIGURATION.format(name=name, host=HOST, port=port))


def url_for(port: int) -> str:
    """Where HA on ``port`` serves."""
    return f"http://{HOST}:{port}"


def hass_environment() -> dict[str, str]:
    """HA's environment: ours, without the test run's coverage hooks (HA is not code under test)."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("COV_CORE_", "COVERAGE_"))}


def start_hass(config_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``hass -c config_dir`` in its own session (no pip: the machine is offline)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as log_file:
        return subprocess.Popen(  # noqa: S603 (our venv's hass, our arguments)
            [str(hass_binary()), "-c", str(config_dir), "--skip-pip"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=hass_environment(),
            start_new_session=True,
        )


def log_tail(log: Path, chars: int = 4000) -> str:
    """The end of a log file, or a note that there is none."""
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return f"(no log at {log})"


def serving(url: str) -> bool:
    """Whether HA's frontend answers at ``url`` (the manifest needs no login, so no failed-login note)."""
    try:
        with _OPENER.open(f"{url}/manifest.json", timeout=5) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(
    url: str, proc: subprocess.Popen[bytes] | None, log: Path, timeout: float = READY_TIMEOUT
) -> None:
    """Block until HA serves at ``url``; raise with its log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HassError(f"hass exited with {proc.returncode}:\n{log_tail(log)}")
        if serving(url):
            return
        time.sleep(0.5)
    raise HassError(f"hass did not serve {url} within {timeout:.0f} s:\n{log_tail(log)}")


def stop_pid(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM ``pid`` (HA stops cleanly on it), SIGKILL it after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def stop_hass(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop the HA that :func:`start_hass` started."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_hass(config_dir: Path, port: int, log: Path) -> Iterator[str]:
    """A fresh or existing config directory served on ``port``; stopped on the way out, always."""
    prepare_config(config_dir, port)
    url = url_for(port)
    proc = start_hass(config_dir, log)
    try:
        wait_ready(url, proc, log)
        yield url
    finally:
        stop_hass(proc)
