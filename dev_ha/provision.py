"""Set up a running Home Assistant through its public API, as a user would through the UI.

Idempotent: a second run logs in instead of onboarding, reuses the Wyoming entries that still
answer (and removes those that do not), reuses the demo line and rewrites the dashboard.
Everything goes through HA's REST and websocket APIs; nothing reads or writes ``.storage``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

DOMAIN: Final = "hold_slayer"
DEMO_TITLE: Final = "Hold Slayer demo line"  # config_flow.DEMO_TITLE
DASHBOARD_PATH: Final = "hold-slayer"
DASHBOARD_TITLE: Final = "Hold Slayer"
CARD_TYPE: Final = "custom:hold-slayer-card"
OWNER_NAME: Final = "Hold Slayer Dev"
SPEECH_KINDS: Final = ("stt", "tts")
REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=60)


class ProvisionError(RuntimeError):
    """HA refused a step: the message says which request and what HA answered."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """An owner's login: what the frontend keeps in ``localStorage.hassTokens``."""

    url: str
    access_token: str
    refresh_token: str
    expires_in: int

    @property
    def client_id(self) -> str:
        """The client the tokens were issued to (the frontend's own id: its origin)."""
        return client_id(self.url)

    def browser_storage(self, now: float | None = None) -> dict[str, Any]:
        """``hassTokens`` as HA's frontend stores them: opening the page needs no login form."""
        issued = time.time() if now is None else now
        return {
            "hassUrl": self.url,
            "clientId": self.client_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "expires": int((issued + self.expires_in) * 1000),
        }


@dataclass(frozen=True, slots=True)
class Provisioned:
    """What :func:`provision` set up."""

    tokens: Tokens
    onboarded: bool  # this run created the owner (else it logged in)
    stt_entity: str
    tts_entity: str
    line_entry_id: str
    dashboard_url: str


def client_id(url: str) -> str:
    """HA's frontend identifies itself by its origin with a trailing slash."""
    return f"{url.rstrip('/')}/"


async def _json(response: aiohttp.ClientResponse) -> Any:
    if response.status >= 400:
        raise ProvisionError(f"{response.method} {response.url} → {response.status}: {await response.text()}")
    return await response.json()


class HomeAssistantApi:
    """HA's REST API and one websocket connection, as the owner."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.tokens: Tokens | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    # -- login ---------------------------------------------------------------------------------

    async def _token(self, code: str) -> Tokens:
        async with self.session.post(
            f"{self.url}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": client_id(self.url)},
        ) as response:
            body = await _json(response)
        self.tokens = Tokens(self.url, body["access_token"], body["refresh_token"], int(body["expires_in"]))
        return self.tokens

    async def onboarded(self) -> bool:
        """Whether HA's owner exists (after onboarding HA no longer serves the view)."""
        async with self.session.get(f"{self.url}/api/onboarding") as response:
            if response.status == 404:
                return True
            steps = await _json(response)
        return any(step["step"] == "user" and step["done"] for step in steps)

    async def onboard(self, user: str, password: str) -> Tokens:
        """Create the owner and finish every onboarding step."""
        async with self.session.post(
            f"{self.url}/api/onboarding/users",
            json={
                "client_id": client_id(self.url),
                "name": OWNER_NAME,
                "username": user,
                "password": password,
                "language": "en",
            },
        ) as response:
            tokens = await self._token((await _json(response))["auth_code"])
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            ("integration", {"client_id": client_id(self.url), "redirect_uri": client_id(self.url)}),
        ):
            await self.rest("post", f"/api/onboarding/{step}", body)
        return tokens

    async def login(self, user: str, password: str) -> Tokens:
        """Log in through HA's login flow, as the login form does."""
        async with self.session.post(
            f"{self.url}/auth/login_flow",
            json={
                "client_id": client_id(self.url),
                "handler": ["homeassistant", None],
                "redirect_uri": client_id(self.url),
            },
        ) as response:
            flow_id = (await _json(response))["flow_id"]
        async with self.session.post(
            f"{self.url}/auth/login_flow/{flow_id}",
            json={"client_id": client_id(self.url), "username": user, "password": password},
        ) as response:
            result = await _json(response)
        if result.get("type") != "create_entry":
            raise ProvisionError(f"login as {user!r} failed: {result.get('errors')}")
        return await self._token(result["result"])

    # -- REST and websocket ----------------------------------------------------------------------

    async def rest(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One authenticated REST call; its JSON answer."""
        assert self.tokens is not None, "log in first"
        async with self.session.request(
            method,
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens.access_token}"},
        ) as response:
            return await _json(response)

    async def ws(self, command: str, **data: Any) -> Any:
        """One websocket command; its result (raises :class:`ProvisionError` on an error)."""
        if self._ws is None:
            assert self.tokens is not None, "log in first"
            self._ws = await self.session.ws_connect(f"{self.url}/api/websocket")
            await self._ws.receive_json()  # auth_required
            await self._ws.send_json({"type": "auth", "access_token": self.tokens.access_token})
            if (answer := await self._ws.receive_json())["type"] != "auth_ok":
                raise ProvisionError(f"websocket login refused: {answer}")
        msg_id = next(self._ids)
        await self._ws.send_json({"id": msg_id, "type": command, **data})
        while True:
            message = await self._ws.receive_json()
            if message.get("id") == msg_id and message.get("type") == "result":
                break
        if not message["success"]:
            raise ProvisionError(f"{command} → {message['error']}")
        return message["result"]

    async def close(self) -> None:
        """Close the websocket, if one was opened."""
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    # -- config entries ------------------------------------------------------------------------

    async def entries(self, domain: str) -> list[dict[str, Any]]:
        """The config entries of ``domain`` (id, title, state, …)."""
        result: list[dict[str, Any]] = await self.ws("config_entries/get", domain=domain)
        return result

    async def flow(self, handler: str, *steps: Mapping[str, Any]) -> dict[str, Any]:
        """A config flow for ``handler`` answered with ``steps``; its last result."""
        result: dict[str, Any] = await self.rest(
            "post", "/api/config/config_entries/flow", {"handler": handler}
        )
        for step in steps:
            if result["type"] not in ("form", "menu"):
                break
            result = await self.rest("post", f"/api/config/config_entries/flow/{result['flow_id']}", step)
        return result

    async def set_options(self, entry_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Submit ``entry_id``'s options form with what it shows now, and ``changes``."""
        form = await self.rest("post", "/api/config/config_entries/options/flow", {"handler": entry_id})
        data: dict[str, Any] = {}
        for field in form["data_schema"]:
            current = (field.get("description") or {}).get("suggested_value", field.get("default"))
            if current is not None:
                data[field["name"]] = current
        data.update(changes)
        result: dict[str, Any] = await self.rest(
            "post", f"/api/config/config_entries/options/flow/{form['flow_id']}", data
        )
        if result["type"] != "create_entry":
            raise ProvisionError(f"options of {entry_id} refused: {result.get('errors')}")
        return result

    async def entity_registry(self) -> list[dict[str, Any]]:
        """Every entity registry entry."""
        result: list[dict[str, Any]] = await self.ws("config/entity_registry/list")
        return result


async def login_owner(api: HomeAssistantApi, user: str, password: str) -> tuple[Tokens, bool]:
    """Onboard a fresh HA with this owner, or log into an onboarded one; whether it onboarded."""
    if await api.onboarded():
        return await api.login(user, password), False
    return await api.onboard(user, password), True


async def ensure_wyoming(api: HomeAssistantApi, servers: Mapping[str, tuple[str, int]]) -> dict[str, str]:
    """HA's ``wyoming`` integration serving ``servers`` (kind → host, port); kind → entity id.

    Entries that no longer answer (a server moved to another port) are removed; a loaded entry
    offering a kind is reused, as with add-ons a user set up once.
    """
    entries = await api.entries("wyoming")
    for entry in entries:
        if entry["state"] != "loaded":
            await api.rest("delete", f"/api/config/config_entries/entry/{entry['entry_id']}")
    loaded = {entry["entry_id"] for entry in entries if entry["state"] == "loaded"}

    async def offered() -> dict[str, str]:
        found: dict[str, str] = {}
        for item in await api.entity_registry():
            domain = item["entity_id"].split(".", 1)[0]
            if item["platform"] == "wyoming" and domain in SPEECH_KINDS and item["config_entry_id"] in loaded:
                found.setdefault(domain, item["entity_id"])
        return found

    found = await offered()
    for kind, (host, port) in servers.items():
        if kind in found:
            continue
        result = await api.flow("wyoming", {"host": host, "port": port})
        if result["type"] != "create_entry":
            raise ProvisionError(f"wyoming {kind} on {host}:{port}: {result.get('errors') or result}")
        loaded.add(result["result"]["entry_id"])
    found = await offered()
    if missing := [kind for kind in servers if kind not in found]:
        raise ProvisionError(f"no wyoming entity for {missing} after adding the servers")
    return found


async def ensure_demo_line(api: HomeAssistantApi, stt_entity: str, tts_entity: str) -> str:
    """The Hold Slayer demo line, hearing and speaking through these entities; its entry id."""
    entry_id = next((e["entry_id"] for e in await api.entries(DOMAIN) if e["title"] == DEMO_TITLE), None)
    if entry_id is None:
        result = await api.flow(DOMAIN, {"next_step_id": "demo"}, {})
        if result["type"] != "create_entry":
            raise ProvisionError(f"the demo line was not added: {result}")
        entry_id = str(result["result"]["entry_id"])
    await api.set_options(entry_id, {"stt_engine": stt_entity, "tts_engine": tts_entity})
    return entry_id


def dashboard_config(entry_id: str) -> dict[str, Any]:
    """One view holding the card for the line."""
    return {
        "title": DASHBOARD_TITLE,
        "views": [
            {
                "title": DASHBOARD_TITLE,
                "path": "line",
                "cards": [{"type": CARD_TYPE, "config_entry_id": entry_id}],
            }
        ],
    }


async def ensure_dashboard(api: HomeAssistantApi, entry_id: str) -> str:
    """A "Hold Slayer" dashboard (storage mode) holding the card; its URL."""
    dashboards = await api.ws("lovelace/dashboards/list")
    if not any(board["url_path"] == DASHBOARD_PATH for board in dashboards):
        await api.ws(
            "lovelace/dashboards/create",
            url_path=DASHBOARD_PATH,
            title=DASHBOARD_TITLE,
            icon="mdi:phone-in-talk",
            show_in_sidebar=True,
            require_admin=False,
        )
    await api.ws("lovelace/config/save", url_path=DASHBOARD_PATH, config=dashboard_config(entry_id))
    return f"{api.url}/{DASHBOARD_PATH}/line"


async def provision(
    url: str, user: str, password: str, servers: Mapping[str, tuple[str, int]]
) -> Provisioned:
    """Onboard (or log in), add the speech servers, the demo line and the dashboard."""
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        api = HomeAssistantApi(session, url)
        try:
            tokens, onboarded = await login_owner(api, user, password)
            speech = await ensure_wyoming(api, servers)
            entry_id = await ensure_demo_line(api, speech["stt"], speech["tts"])
            dashboard = await ensure_dashboard(api, entry_id)
        finally:
            await api.close()
    return Provisioned(tokens, onboarded, speech["stt"], speech["tts"], entry_id, dashboard)
