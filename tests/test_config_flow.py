"""Config flow against a real Kamailio registrar: every REGISTER here crosses loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.hold_slayer.account import account_from_data
from custom_components.hold_slayer.const import (
    CONF_ADVANCED,
    CONF_ALLOWED_PREFIXES,
    CONF_BLOCKED_PREFIXES,
    CONF_CONVERSATION_AGENT,
    CONF_DESK_EXTENSION,
    CONF_EMERGENCY_NUMBERS,
    CONF_HOME_COUNTRY_CODE,
    CONF_KEEPALIVE,
    CONF_KEEPALIVE_METHOD,
    CONF_MAX_CONCURRENT_CALLS,
    CONF_MAX_HOLD_MINUTES,
    CONF_OPENAI_API_KEY,
    CONF_OPENAI_BASE_URL,
    CONF_OPENAI_MODEL,
    CONF_OUTBOUND_PROXY,
    CONF_PHONE_BOOK,
    CONF_REWRITE_CONTACT,
    CONF_RTP_PORTS,
    CONF_SIP_PORTS,
    CONF_STUN_SERVER,
    CONF_TRANSPORT,
    DOMAIN,
)
from custom_components.hold_slayer.telephony import KEEPALIVE_INTERVAL, KeepaliveMethod, SipPhone
from custom_components.hold_slayer.telephony import stun as stun_module
from harness.servers.certs import make_certificates
from harness.servers.coturn import run_stun_server
from harness.servers.kamailio import Registrar, free_port, run_registrar
from tests.conftest import PASSWORD, USERNAME, account_input

pytestmark = [pytest.mark.usefixtures("socket_enabled", "short_register_timeout"), pytest.mark.registrar]


async def _submit(hass: HomeAssistant, user_input: dict[str, Any]) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["sip_account", "sip_trunk", "demo"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "sip_account"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "sip_account"
    return await hass.config_entries.flow.async_configure(result["flow_id"], user_input)


@pytest.mark.usefixtures("no_setup")
async def test_user_registers_and_creates_entry(hass: HomeAssistant, registrar: Registrar) -> None:
    """A correct account registers for real and becomes an entry named username@registrar."""
    user_input = account_input(registrar)
    result = await _submit(hass, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"{USERNAME}@127.0.0.1"
    assert result["result"].unique_id == f"{USERNAME}@127.0.0.1"
    assert result["data"] == user_input


@pytest.mark.usefixtures("no_setup")
async def test_user_tcp_transport(hass: HomeAssistant, registrar: Registrar) -> None:
    """TCP reaches the same registrar."""
    result = await _submit(hass, account_input(registrar, **{CONF_TRANSPORT: "tcp"}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TRANSPORT] == "tcp"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({CONF_PASSWORD: "wrong"}, "invalid_auth"),
        ({CONF_USERNAME: "mallory"}, "invalid_auth"),
        ({CONF_TRANSPORT: "tcp", CONF_PORT: "closed"}, "cannot_connect"),
        ({CONF_PORT: "closed"}, "timeout"),
        ({CONF_HOST: "no-such-host.invalid"}, "cannot_connect"),
    ],
    ids=["wrong-password", "unknown-user", "tcp-closed-port", "udp-closed-port", "unresolvable-host"],
)
@pytest.mark.usefixtures("no_setup")
async def test_user_errors_are_recoverable(
    hass: HomeAssistant, registrar: Registrar, overrides: dict[str, Any], error: str
) -> None:
    """Each failure is shown on the form; fixing the input then succeeds."""
    if overrides.get(CONF_PORT) == "closed":
        overrides[CONF_PORT] = free_port()
    result = await _submit(hass, account_input(registrar, **overrides))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], account_input(registrar))
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({CONF_HOST: "sip:pbx.example.com"}, {CONF_HOST: "invalid_host"}),
        ({CONF_ADVANCED: {CONF_SIP_PORTS: "5080-5060"}}, {"base": "invalid_sip_ports"}),
        ({CONF_ADVANCED: {CONF_RTP_PORTS: "10000"}}, {"base": "invalid_rtp_ports"}),
        ({CONF_ADVANCED: {CONF_OUTBOUND_PROXY: "proxy:port"}}, {"base": "invalid_outbound_proxy"}),
        ({CONF_ADVANCED: {CONF_STUN_SERVER: "stun:stun.example.com"}}, {"base": "invalid_stun_server"}),
    ],
    ids=["host-with-scheme", "reversed-sip-range", "single-rtp-port", "bad-proxy-port", "stun-uri"],
)
@pytest.mark.usefixtures("no_setup")
async def test_user_invalid_fields(
    hass: HomeAssistant, registrar: Registrar, overrides: dict[str, Any], errors: dict[str, str]
) -> None:
    """Malformed fields are refused before any packet is sent."""
    with patch("custom_components.hold_slayer.config_flow.probe_registration") as probe:
        result = await _submit(hass, account_input(registrar, **overrides))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    probe.assert_not_called()


@pytest.mark.usefixtures("no_setup")
async def test_user_stun_server(
    hass: HomeAssistant, registrar: Registrar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A STUN server that does not answer is reported on the form; a real one (coturn) is asked
    during the test registration and stored with the entry."""
    monkeypatch.setattr(stun_module, "RETRANSMISSIONS", 1)
    silent = f"127.0.0.1:{free_port()}"
    result = await _submit(hass, account_input(registrar, **{CONF_ADVANCED: {CONF_STUN_SERVER: silent}}))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "stun_failed"}
    with run_stun_server() as server:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], account_input(registrar, **{CONF_ADVANCED: {CONF_STUN_SERVER: server.address}})
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADVANCED][CONF_STUN_SERVER] == server.address
    account = account_from_data(result["data"])
    assert (account.stun_server, account.stun_port) == ("127.0.0.1", server.port)
    assert account_from_data(account_input(registrar)).stun_server is None


@pytest.mark.usefixtures("no_setup")
async def test_user_no_free_local_port(hass: HomeAssistant, registrar: Registrar) -> None:
    """A SIP port range that is all taken (here: the registrar's own port) is reported."""
    ports = f"{registrar.port}-{registrar.port}"
    result = await _submit(hass, account_input(registrar, **{CONF_ADVANCED: {CONF_SIP_PORTS: ports}}))
    assert result["errors"] == {"base": "no_free_port"}


@pytest.mark.usefixtures("no_setup")
async def test_user_registrar_rejects(hass: HomeAssistant, registrar: Registrar) -> None:
    """A final non-auth answer from the registrar (e.g. 503) is reported as 'rejected'."""
    with patch(
        "custom_components.hold_slayer.telephony.phone.SipPhone._register",
        side_effect=__import__("custom_components.hold_slayer.telephony", fromlist=["x"]).SipRejectedError(
            503, "Service Unavailable"
        ),
    ):
        result = await _submit(hass, account_input(registrar))
    assert result["errors"] == {"base": "rejected"}


@pytest.mark.usefixtures("no_setup")
async def test_user_unexpected_error(hass: HomeAssistant, registrar: Registrar) -> None:
    """Anything unforeseen is 'unknown' and the form stays usable."""
    with patch(
        "custom_components.hold_slayer.config_flow.probe_registration", side_effect=RuntimeError("boom")
    ):
        result = await _submit(hass, account_input(registrar))
    assert result["errors"] == {"base": "unknown"}


@pytest.mark.usefixtures("no_setup")
async def test_user_duplicate_aborts(hass: HomeAssistant, registrar: Registrar) -> None:
    """The same username@registrar cannot be added twice."""
    MockConfigEntry(domain=DOMAIN, unique_id=f"{USERNAME}@127.0.0.1", data={}).add_to_hass(hass)
    result = await _submit(hass, account_input(registrar))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def _entry(hass: HomeAssistant, registrar: Registrar, **overrides: Any) -> MockConfigEntry:
    data = account_input(registrar, **overrides)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"{data[CONF_USERNAME]}@{data[CONF_HOST]}",
        title="alice@127.0.0.1",
        data=data,
    )
    entry.add_to_hass(hass)
    return entry


@pytest.mark.usefixtures("no_setup")
async def test_reauth(hass: HomeAssistant, registrar: Registrar) -> None:
    """Reauth tests the new password for real, keeps the rest and reloads the entry."""
    entry = _entry(hass, registrar, **{CONF_PASSWORD: "old"})
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    assert (result["description_placeholders"] or {}).get("account") == "alice@127.0.0.1"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PASSWORD: "still-wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PASSWORD: PASSWORD})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_PASSWORD] == PASSWORD
    assert entry.data[CONF_PORT] == registrar.port


@pytest.mark.usefixtures("no_setup")
async def test_nat_settings_are_kept_and_reach_the_phone(hass: HomeAssistant, registrar: Registrar) -> None:
    """The advanced NAT settings are stored with the entry and are what the line's phone uses;
    an entry saved before they existed gets the defaults."""
    nat = {CONF_KEEPALIVE: 15, CONF_KEEPALIVE_METHOD: "options", CONF_REWRITE_CONTACT: False}
    result = await _submit(hass, account_input(registrar, **{CONF_ADVANCED: nat}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADVANCED] | nat == result["data"][CONF_ADVANCED]
    account = account_from_data(result["data"])
    assert (account.keepalive_interval, account.keepalive_method, account.rewrite_contact) == (
        15.0,
        KeepaliveMethod.OPTIONS,
        False,
    )
    phone = SipPhone(account)
    assert (phone.keepalive_interval, phone.keepalive_method, phone.rewrite_contact) == (
        15.0,
        KeepaliveMethod.OPTIONS,
        False,
    )
    older = account_input(registrar)
    for key in nat:
        older[CONF_ADVANCED].pop(key, None)
    account = account_from_data(older)
    assert (account.keepalive_interval, account.keepalive_method, account.rewrite_contact) == (
        KEEPALIVE_INTERVAL,
        KeepaliveMethod.CRLF,
        True,
    )


@pytest.mark.usefixtures("no_setup")
async def test_reconfigure(hass: HomeAssistant, registrar: Registrar) -> None:
    """Reconfigure shows the current settings, tests the new ones and saves them."""
    entry = _entry(hass, registrar, **{CONF_TRANSPORT: "udp"})
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    bad = account_input(registrar, **{CONF_PASSWORD: "nope", CONF_TRANSPORT: "tcp"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], bad)
    assert result["errors"] == {"base": "invalid_auth"}
    good = account_input(registrar, **{CONF_TRANSPORT: "tcp"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], good)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_TRANSPORT] == "tcp"


@pytest.mark.usefixtures("no_setup")
async def test_reconfigure_other_account_aborts(hass: HomeAssistant, registrar: Registrar) -> None:
    """Reconfigure cannot turn an entry into a different account."""
    entry = _entry(hass, registrar)
    result = await entry.start_reconfigure_flow(hass)
    other = account_input(registrar, **{CONF_USERNAME: "bob", CONF_PASSWORD: "builder"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], other)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert entry.data[CONF_USERNAME] == USERNAME


@pytest.mark.usefixtures("no_setup")
async def test_options(hass: HomeAssistant, registrar: Registrar) -> None:
    """Options are validated as a whole, then stored cleaned."""
    entry = _entry(hass, registrar)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    bad = {
        CONF_DESK_EXTENSION: "desk phone",
        CONF_OPENAI_BASE_URL: "ftp://llm",
        CONF_CONVERSATION_AGENT: "conversation.home_assistant",
        CONF_HOME_COUNTRY_CODE: "abc",
        CONF_ALLOWED_PREFIXES: ["+44", "44x"],
        CONF_BLOCKED_PREFIXES: ["1900"],
        CONF_EMERGENCY_NUMBERS: ["1"],
        CONF_MAX_CONCURRENT_CALLS: 2,
        CONF_MAX_HOLD_MINUTES: 60,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], bad)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        CONF_DESK_EXTENSION: "invalid_desk_extension",
        CONF_OPENAI_BASE_URL: "invalid_url",
        CONF_CONVERSATION_AGENT: "built_in_agent",
        CONF_OPENAI_MODEL: "openai_model_required",
        CONF_HOME_COUNTRY_CODE: "invalid_country_code",
        CONF_ALLOWED_PREFIXES: "invalid_prefix",
        CONF_EMERGENCY_NUMBERS: "invalid_emergency_number",
    }
    good = {
        CONF_DESK_EXTENSION: " sip:desk@pbx.home.lan ",
        CONF_OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
        CONF_OPENAI_MODEL: "llama3",
        CONF_OPENAI_API_KEY: "sk-test",
        CONF_HOME_COUNTRY_CODE: "+44",
        CONF_ALLOWED_PREFIXES: ["+44", " "],
        CONF_BLOCKED_PREFIXES: ["0909"],
        CONF_EMERGENCY_NUMBERS: ["101"],
        CONF_MAX_CONCURRENT_CALLS: 3.0,
        CONF_MAX_HOLD_MINUTES: 90,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], good)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_DESK_EXTENSION: "sip:desk@pbx.home.lan",
        CONF_OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
        CONF_OPENAI_MODEL: "llama3",
        CONF_OPENAI_API_KEY: "sk-test",
        CONF_HOME_COUNTRY_CODE: "44",
        CONF_ALLOWED_PREFIXES: ["+44"],
        CONF_BLOCKED_PREFIXES: ["0909"],
        CONF_EMERGENCY_NUMBERS: ["101"],
        CONF_MAX_CONCURRENT_CALLS: 3,
        CONF_MAX_HOLD_MINUTES: 90,
    }


@pytest.mark.usefixtures("no_setup")
async def test_options_model_without_url(hass: HomeAssistant, registrar: Registrar) -> None:
    """A model or key without an endpoint is pointed out on the URL field."""
    entry = _entry(hass, registrar)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_OPENAI_MODEL: "gpt", CONF_HOME_COUNTRY_CODE: "1"}
    )
    assert result["errors"] == {CONF_OPENAI_BASE_URL: "openai_url_required"}


@pytest.mark.usefixtures("no_setup")
async def test_user_tls(hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS to a registrar with an untrusted certificate is explained; trusted, it registers."""
    certs = make_certificates(tmp_path)
    with run_registrar({USERNAME: PASSWORD}, tls=(certs.cert, certs.key)) as registrar:
        assert registrar.tls_port is not None
        user_input = account_input(registrar, **{CONF_TRANSPORT: "tls", CONF_PORT: registrar.tls_port})
        result = await _submit(hass, user_input)
        assert result["errors"] == {"base": "tls_untrusted"}
        monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
        assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("no_setup")
@pytest.mark.parametrize(
    ("book", "error"),
    [
        ("Acme Bank +1 800 555 0100", "phone_book_malformed"),
        ("Police = 911", "phone_book_emergency_number"),
        ("Psychic = 1-900-555-0100", "phone_book_premium_number"),
        ("London = +44 20 7946 0018", "phone_book_international_number"),
        ("Acme = call me", "phone_book_invalid_number"),
    ],
)
async def test_options_phone_book_errors(
    hass: HomeAssistant, registrar: Registrar, book: str, error: str
) -> None:
    """Each phone-book number goes through the line's dial plan; refusals are field errors."""
    entry = _entry(hass, registrar)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_HOME_COUNTRY_CODE: "1", CONF_PHONE_BOOK: f"Good = 8005550100\n{book}"}
    )
    assert result["errors"] == {CONF_PHONE_BOOK: error}


@pytest.mark.usefixtures("no_setup")
async def test_options_phone_book(hass: HomeAssistant, registrar: Registrar) -> None:
    """Stored as contacts with E.164 numbers; shown again as text; allowed prefixes apply."""
    entry = _entry(hass, registrar)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    text = "Acme Bank, acme, my bank = (800) 555-0100\n\nLondon Office = +44 20 7946 0018\n"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_HOME_COUNTRY_CODE: "1", CONF_ALLOWED_PREFIXES: ["+44"], CONF_PHONE_BOOK: text},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_PHONE_BOOK] == [
        {"name": "Acme Bank", "aliases": ["acme", "my bank"], "number": "+18005550100"},
        {"name": "London Office", "aliases": [], "number": "+442079460018"},
    ]
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"]
    assert schema is not None
    [field] = [key for key in schema.schema if key == CONF_PHONE_BOOK]
    assert field.description == {
        "suggested_value": "Acme Bank, acme, my bank = +18005550100\nLondon Office = +442079460018"
    }
