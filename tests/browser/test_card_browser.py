"""The card in a real browser: a call started from the dashboard walks menu → hold → person.

Everything is real and local: Home Assistant 2025.4.4 as a subprocess on 127.0.0.1 with the
frontend it pins (``home-assistant-frontend``), a fresh config directory onboarded through its
API, HA's ``wyoming`` integration pointed at the real Whisper and Piper servers, the Hold Slayer
demo line voiced and heard through them, and a "Hold Slayer" dashboard holding the card, made
through the websocket API (``dev_ha``, shared with ``script/develop``). ``card_call.js`` then
opens the dashboard in Debian's ``chromium`` driven by ``playwright-core``, starts a call to Demo
Bank from the card's Call form with the account number typed into its secrets rows, and follows
the card's shadow DOM through the phone menu (the number keyed), the hold (which only a valid
number reaches) and the person, then hangs up from the card. Screenshots of every step land in
``artifacts/browser/`` (``script/screenshots`` copies them into the README's images).

A second run places a call from Home Assistant's own Actions page in its UI mode, the account
number typed into the Secrets field's editor (``actions_form.js``): the call must carry it, and a
value that is not keys must come back as the integration's translated error on that page.

A missing ``chromium``, ``node`` or ``playwright-core`` fails the test, never skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from dev_ha.process import ROOT, log_tail, running_hass
from dev_ha.provision import HomeAssistantApi, Provisioned, Tokens, provision
from harness.servers.kamailio import free_port

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.timeout(480)]

ARTIFACTS: Final = ROOT / "artifacts" / "browser"
CHROMIUM: Final = Path("/usr/bin/chromium")
ACTIONS_ARTIFACTS: Final = ROOT / "artifacts" / "browser-actions"
DRIVER: Final = Path(__file__).with_name("card_call.js")
ACTIONS_DRIVER: Final = Path(__file__).with_name("actions_form.js")
PLAYWRIGHT: Final = ROOT / "node_modules" / "playwright-core" / "package.json"
USER: Final = "browser"
PASSWORD: Final = "browser-test-password"
# Demo Bank: "for billing, press 1", the ten-digit account number and #, 45 s of hold, then Sarah.
COMPANY: Final = "Demo Bank"
GOAL: Final = "a question about my bill"
SECRETS: Final = {"account_number": "1234567890"}
# Seconds the driver allows each step (a busy two-core machine; the whole run takes about 1 min).
TIMEOUTS: Final = {"page": 90, "answer": 60, "menu": 60, "hold_shot": 6, "person": 120, "hangup": 30}
DRIVER_TIMEOUT: Final = 400
STEPS: Final = [
    ("ready", "idle"),
    ("ivr", "ivr"),
    ("on-hold", "on_hold"),
    ("person", "human"),
    ("ended", "ended"),
]
PNG: Final = b"\x89PNG\r\n\x1a\n"


def _require_browser() -> str:
    """Node, playwright-core and Debian's chromium, or a failure saying how to get them."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: script/setup installs Debian's chromium (apt-get install chromium)"
        )
    if not PLAYWRIGHT.exists():
        pytest.fail("node_modules/playwright-core is missing: run script/setup (npm ci)")
    if (node := shutil.which("node")) is None:
        pytest.fail("node is missing: Node.js >= 20 is needed for the browser test")
    return node


def _in_order(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(state in remaining for state in wanted)


def _run_driver(node: str, script: Path, plan: dict[str, Any], plan_file: Path) -> tuple[int, str]:
    """Run a driver; its exit status and stderr. Its process group (Chromium too) never outlives it."""
    plan_file.write_text(json.dumps(plan))
    driver = subprocess.Popen(
        [node, str(script), str(plan_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own process group: the browser goes with it
    )
    try:
        _, stderr = driver.communicate(timeout=DRIVER_TIMEOUT)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGTERM)  # playwright closes the browser on SIGTERM
            try:
                driver.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)  # anything of the browser's still in the group
    return driver.returncode, stderr


@contextlib.contextmanager
def _provisioned_hass(
    artifacts: Path, tmp_path: Path, stt: tuple[str, int], tts: tuple[str, int]
) -> Iterator[tuple[str, Provisioned, Path]]:
    """A fresh HA set up as script/develop sets it up: its URL, what was set up, and its log
    (kept in ``artifacts``, emptied first)."""
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    log = artifacts / "hass.log"
    with running_hass(tmp_path / "config", free_port(), log) as url:
        yield url, asyncio.run(provision(url, USER, PASSWORD, {"stt": stt, "tts": tts})), log


def test_call_from_the_card(
    tmp_path: Path, wyoming_stt: tuple[str, int], wyoming_tts: tuple[str, int]
) -> None:
    """Call from the card → the card shows menu, hold, the person banner → hang up from the card."""
    node = _require_browser()
    with _provisioned_hass(ARTIFACTS, tmp_path, wyoming_stt, wyoming_tts) as (_, setup, log):
        assert setup.onboarded
        assert (setup.stt_entity.split(".")[0], setup.tts_entity.split(".")[0]) == ("stt", "tts")
        plan = {
            "dashboard": setup.dashboard_url,
            "tokens": setup.tokens.browser_storage(),
            "artifacts": str(ARTIFACTS),
            "chromium": str(CHROMIUM),
            "company": COMPANY,
            "goal": GOAL,
            "secrets": SECRETS,
            "timeouts": TIMEOUTS,
        }
        status, stderr = _run_driver(node, DRIVER, plan, tmp_path / "plan.json")
    result: dict[str, Any] = json.loads((ARTIFACTS / "result.json").read_text())
    assert status == 0, (
        f"{result.get('error')}\nstates: {result.get('states')}\n{stderr[-3000:]}\n"
        f"HA log (artifacts/browser/hass.log):\n{log_tail(log)}"
    )
    assert result["ok"]

    states = [item["state"] for item in result["states"]]
    assert _in_order(["idle", "dialing", "ivr", "on_hold", "human", "ended"], states), states
    assert "failed" not in states
    # A screenshot at each step, taken while the card showed that step.
    assert [(step["name"], step["state"]) for step in result["steps"]] == STEPS
    for step in result["steps"]:
        for shot in (step["page"], step["card"]):
            assert Path(shot).read_bytes().startswith(PNG), shot
    assert COMPANY in result["details"]
    assert GOAL in result["details"]
    assert result["banner"] == "A person is on the line!"
    assert result["ended_reason"] == "Why it ended: hung up"  # the call sensor's end_reason
    # The timeline strip marks the menu choice, the hold and the person; the choice was the rule's.
    assert {"mark mark-choice", "mark mark-hold", "mark mark-person"} <= set(result["marks"])
    assert any("pressed 1" in choice for choice in result["choices"]), result["choices"]
    assert any("pressed •••#" in choice for choice in result["choices"]), result["choices"]  # masked
    assert SECRETS["account_number"] not in json.dumps(result)  # nothing the card showed holds it
    assert not [error for error in result["page_errors"] if "hold-slayer-card" in error]
    # HA saw nothing of ours block its event loop (the classifier's model is read on import), and
    # setting it up never failed a login (the readiness check needs none).
    hass_log = log.read_text(errors="replace")
    assert not [
        line for line in hass_log.splitlines() if "Detected blocking call" in line and "hold_slayer" in line
    ]
    assert "Login attempt failed" not in hass_log


async def _call_diagnostics(url: str, tokens: Tokens, entry_id: str) -> list[dict[str, Any]]:
    """The line's calls as its diagnostics show them, then every live one hung up."""
    async with aiohttp.ClientSession() as session:
        api = HomeAssistantApi(session, url)
        api.tokens = tokens
        diagnostics = await api.rest("get", f"/api/diagnostics/config_entry/{entry_id}")
        calls: list[dict[str, Any]] = diagnostics["data"]["calls"]["recent"]
        await api.rest("post", "/api/services/hold_slayer/hangup", {"config_entry_id": entry_id})
        return calls


def test_call_from_the_actions_form(
    tmp_path: Path, wyoming_stt: tuple[str, int], wyoming_tts: tuple[str, int]
) -> None:
    """HA's Actions page, UI mode: the Secrets field typed in reaches the call; a bad value is told."""
    node = _require_browser()
    with _provisioned_hass(ACTIONS_ARTIFACTS, tmp_path, wyoming_stt, wyoming_tts) as (url, setup, log):
        plan = {
            "base": url,
            "tokens": setup.tokens.browser_storage(),
            "artifacts": str(ACTIONS_ARTIFACTS),
            "chromium": str(CHROMIUM),
            "entry": setup.line_entry_id,
            "company": COMPANY,
            "goal": GOAL,
            "invalid": "account_number: 12 34 ab",
            "valid": f'account_number: "{SECRETS["account_number"]}"',
            "timeout": 60,
        }
        status, stderr = _run_driver(node, ACTIONS_DRIVER, plan, tmp_path / "plan.json")
        calls = asyncio.run(_call_diagnostics(url, setup.tokens, setup.line_entry_id))
    result: dict[str, Any] = json.loads((ACTIONS_ARTIFACTS / "result.json").read_text())
    assert status == 0, f"{result.get('error')}\n{stderr[-3000:]}\nHA log:\n{log_tail(log)}"
    # The bad value: the integration's own translated message on the page, and no call placed.
    assert "must be keypad digits" in result["error_text"], result["error_text"]
    assert "account_number" in result["error_text"]
    # The good one: the page shows the call's id, and the call holds the one secret typed.
    assert "call_id" in result["response_text"], result["response_text"]
    assert [(call["company"], call["secret_count"]) for call in calls] == [(COMPANY, 1)], calls
