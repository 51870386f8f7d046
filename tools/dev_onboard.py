"""Onboard a fresh dev Home Assistant through its onboarding API and check Hold Slayer is offered.

Used by ``script/develop``. Idempotent: an already onboarded instance is logged into instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp

CLIENT_ID = "http://127.0.0.1:8123/"
NAME = "Hold Slayer Dev"


async def _json(response: aiohttp.ClientResponse) -> Any:
    if response.status >= 400:
        raise RuntimeError(f"{response.method} {response.url} → {response.status}: {await response.text()}")
    return await response.json()


async def _token(session: aiohttp.ClientSession, base: str, code: str) -> str:
    async with session.post(
        f"{base}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
    ) as response:
        return str((await _json(response))["access_token"])


async def _onboard(session: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    """Create the owner and finish every onboarding step; return an access token."""
    async with session.post(
        f"{base}/api/onboarding/users",
        json={"client_id": CLIENT_ID, "name": NAME, "username": user, "password": password, "language": "en"},
    ) as response:
        token = await _token(session, base, (await _json(response))["auth_code"])
    headers = {"Authorization": f"Bearer {token}"}
    for step, body in (
        ("core_config", {}),
        ("analytics", {}),
        ("integration", {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID}),
    ):
        async with session.post(f"{base}/api/onboarding/{step}", json=body, headers=headers) as response:
            await _json(response)
    return token


async def _login(session: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    async with session.post(
        f"{base}/auth/login_flow",
        json={"client_id": CLIENT_ID, "handler": ["homeassistant", None], "redirect_uri": CLIENT_ID},
    ) as response:
        flow_id = (await _json(response))["flow_id"]
    async with session.post(
        f"{base}/auth/login_flow/{flow_id}",
        json={"client_id": CLIENT_ID, "username": user, "password": password},
    ) as response:
        result = await _json(response)
    if result.get("type") != "create_entry":
        raise RuntimeError(f"login as {user!r} failed: {result.get('errors')}")
    return await _token(session, base, result["result"])


async def main() -> int:
    """Onboard (or log in), then open and abort a Hold Slayer config flow as a smoke check."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--user", default="dev")
    parser.add_argument("--password", default="holdslayer")
    args = parser.parse_args()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{args.url}/api/onboarding") as response:
            # After onboarding HA no longer serves this view.
            steps = await _json(response) if response.status != 404 else [{"step": "user", "done": True}]
        if not any(step["step"] == "user" and step["done"] for step in steps):
            token = await _onboard(session, args.url, args.user, args.password)
            print(f"onboarded: owner {args.user!r} created")
        else:
            token = await _login(session, args.url, args.user, args.password)
        headers = {"Authorization": f"Bearer {token}"}
        async with session.post(
            f"{args.url}/api/config/config_entries/flow", json={"handler": "hold_slayer"}, headers=headers
        ) as response:
            flow = await _json(response)
        async with session.delete(
            f"{args.url}/api/config/config_entries/flow/{flow['flow_id']}", headers=headers
        ) as response:
            await _json(response)
    if flow.get("step_id") != "user":
        print(f"Hold Slayer config flow did not start: {flow}", file=sys.stderr)
        return 1
    print("Hold Slayer config flow: available (Settings → Devices & services → Add integration)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
