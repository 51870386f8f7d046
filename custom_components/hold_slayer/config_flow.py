"""Config flow for Hold Slayer: a SIP account, a SIP trunk, or the demo line.

An account is tested with a real REGISTER; a trunk that takes calls without registration (by
our IP address, or credentials on each call) with an OPTIONS ping. The demo company line needs
no account: simulated companies answer on this machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector

from .account import InvalidAccountFieldError, account_from_data, from_number
from .const import (
    CONF_ADVANCED,
    CONF_AUTH_USERNAME,
    CONF_CALLER_ID,
    CONF_DEMO,
    CONF_FROM_NUMBER,
    CONF_KEEPALIVE,
    CONF_KEEPALIVE_METHOD,
    CONF_OUTBOUND_PROXY,
    CONF_REWRITE_CONTACT,
    CONF_RTP_PORTS,
    CONF_SIP_PORTS,
    CONF_STT_ENGINE,
    CONF_STUN_SERVER,
    CONF_TRANSPORT,
    CONF_TRUNK,
    CONF_TTS_ENGINE,
    DEFAULT_RTP_PORTS,
    DEFAULT_SIP_PORTS,
    DEMO_UNIQUE_ID,
    DOMAIN,
    LOGGER,
    REGISTER_TEST_TIMEOUT,
)
from .demo_entry import async_cloud_tts_problem, async_demo_options, async_local_engines
from .options import build_options_schema, validate_options
from .telephony import (
    KEEPALIVE_INTERVAL,
    KeepaliveMethod,
    SipAuthError,
    SipCertificateError,
    SipConfigError,
    SipConnectionError,
    SipRejectedError,
    SipStunError,
    SipTimeoutError,
    Transport,
    probe_registration,
    probe_trunk,
)

_ADVANCED_FIELDS = frozenset(
    {CONF_AUTH_USERNAME, CONF_OUTBOUND_PROXY, CONF_SIP_PORTS, CONF_RTP_PORTS, CONF_STUN_SERVER}
)
_TEXT = selector.TextSelector()
_PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD, autocomplete="current-password")
)
_PORT = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=65535, step=1, mode=selector.NumberSelectorMode.BOX)
)
# 0 turns keep-alive packets off; more than two minutes outlasts every home router's UDP mapping.
_KEEPALIVE = selector.NumberSelector(
    selector.NumberSelectorConfig(
        min=0, max=120, step=1, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX
    )
)
_KEEPALIVE_METHOD = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[method.value for method in KeepaliveMethod],
        translation_key=CONF_KEEPALIVE_METHOD,
        mode=selector.SelectSelectorMode.DROPDOWN,
    )
)
_TRANSPORT = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[t.value for t in Transport],
        translation_key=CONF_TRANSPORT,
        mode=selector.SelectSelectorMode.DROPDOWN,
    )
)


DEMO_TITLE = "Hold Slayer demo line"
DEFAULT_ENGINE = "Home Assistant's default"  # shown when no local engine exists


def _server_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Where the account's registrar, or the trunk, is: host, port and transport."""
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): _TEXT,
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, 5060)): _PORT,
        vol.Required(CONF_TRANSPORT, default=defaults.get(CONF_TRANSPORT, Transport.UDP.value)): _TRANSPORT,
    }


def _advanced_section(
    advanced: Mapping[str, Any], before: Mapping[vol.Marker, Any], after: Mapping[vol.Marker, Any]
) -> dict[vol.Marker, Any]:
    """The collapsed Advanced section: proxy, ports, keep-alive and STUN, between ``before`` and ``after``."""
    fields = {
        **before,
        vol.Optional(
            CONF_OUTBOUND_PROXY, description={"suggested_value": advanced.get(CONF_OUTBOUND_PROXY)}
        ): _TEXT,
        vol.Required(CONF_SIP_PORTS, default=advanced.get(CONF_SIP_PORTS, DEFAULT_SIP_PORTS)): _TEXT,
        vol.Required(CONF_RTP_PORTS, default=advanced.get(CONF_RTP_PORTS, DEFAULT_RTP_PORTS)): _TEXT,
        vol.Required(CONF_KEEPALIVE, default=advanced.get(CONF_KEEPALIVE, KEEPALIVE_INTERVAL)): _KEEPALIVE,
        vol.Required(
            CONF_KEEPALIVE_METHOD, default=advanced.get(CONF_KEEPALIVE_METHOD, KeepaliveMethod.CRLF.value)
        ): _KEEPALIVE_METHOD,
        vol.Optional(
            CONF_STUN_SERVER, description={"suggested_value": advanced.get(CONF_STUN_SERVER)}
        ): _TEXT,
        **after,
    }
    return {vol.Required(CONF_ADVANCED): section(vol.Schema(fields), {"collapsed": True})}


def _account_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """The account form, pre-filled with ``defaults`` (password never pre-filled)."""
    advanced: Mapping[str, Any] = defaults.get(CONF_ADVANCED) or {}
    return vol.Schema(
        {
            **_server_fields(defaults),
            vol.Required(CONF_USERNAME, default=defaults.get(CONF_USERNAME, vol.UNDEFINED)): _TEXT,
            vol.Required(CONF_PASSWORD): _PASSWORD,
            vol.Optional(
                CONF_CALLER_ID, description={"suggested_value": defaults.get(CONF_CALLER_ID)}
            ): _TEXT,
            **_advanced_section(
                advanced,
                before={
                    vol.Optional(
                        CONF_AUTH_USERNAME,
                        description={"suggested_value": advanced.get(CONF_AUTH_USERNAME)},
                    ): _TEXT
                },
                after={
                    vol.Required(
                        CONF_REWRITE_CONTACT, default=advanced.get(CONF_REWRITE_CONTACT, True)
                    ): selector.BooleanSelector()
                },
            ),
        }
    )


def _trunk_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """The trunk form: its termination host, our number on it, credentials if it wants them."""
    return vol.Schema(
        {
            **_server_fields(defaults),
            vol.Required(CONF_FROM_NUMBER, default=defaults.get(CONF_FROM_NUMBER, vol.UNDEFINED)): _TEXT,
            vol.Optional(CONF_USERNAME, description={"suggested_value": defaults.get(CONF_USERNAME)}): _TEXT,
            vol.Optional(CONF_PASSWORD): _PASSWORD,
            **_advanced_section(defaults.get(CONF_ADVANCED) or {}, before={}, after={}),
        }
    )


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a submitted account or trunk form into what the entry stores."""
    data = dict(user_input)
    data[CONF_HOST] = data[CONF_HOST].strip().lower()
    data[CONF_USERNAME] = (data.get(CONF_USERNAME) or "").strip()
    if CONF_FROM_NUMBER in data:
        data[CONF_FROM_NUMBER] = data[CONF_FROM_NUMBER].strip()
    data[CONF_PORT] = int(data[CONF_PORT])
    data[CONF_ADVANCED] = {
        key: value.strip() if isinstance(value, str) else value
        for key, value in (data.get(CONF_ADVANCED) or {}).items()
    }
    return data


def unique_id_for(data: Mapping[str, Any]) -> str:
    """``username@registrar``: one entry per SIP account; ``number@host`` per trunk number."""
    user = data[CONF_FROM_NUMBER] if data.get(CONF_TRUNK) else data[CONF_USERNAME]
    return f"{user.strip()}@{data[CONF_HOST].strip().lower()}"


def _from_number_error(data: dict[str, Any]) -> dict[str, str]:
    """The form error of a trunk's unusable From number (none for an account); kept normalised."""
    if not data.get(CONF_TRUNK):
        return {}
    try:
        data[CONF_FROM_NUMBER] = from_number(data[CONF_FROM_NUMBER])
    except InvalidAccountFieldError as err:
        return {err.field: err.error}
    return {}


class HoldSlayerConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up, re-authenticate and reconfigure a SIP account."""

    VERSION = 1
    MINOR_VERSION = 1

    # An attribute so tests can shorten it.
    register_timeout: ClassVar[float] = REGISTER_TEST_TIMEOUT

    async def _async_test_account(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Register once with ``data`` (a trunk: ping it); return form errors (empty when it worked)."""
        try:
            account = account_from_data(data)
        except InvalidAccountFieldError as err:
            # Fields inside the collapsed section report on the form as a whole.
            return {"base" if err.field in _ADVANCED_FIELDS else err.field: err.error}
        try:
            if account.registers:
                await probe_registration(account, answer_within=self.register_timeout)
            else:
                await probe_trunk(account, answer_within=self.register_timeout)
        except SipAuthError:
            return {"base": "invalid_auth" if account.registers else "trunk_refused"}
        except SipTimeoutError:
            return {"base": "timeout"}
        except SipCertificateError:
            return {"base": "tls_untrusted"}
        except SipStunError:
            return {"base": "stun_failed"}
        except SipConnectionError:
            return {"base": "cannot_connect"}
        except SipRejectedError as err:
            LOGGER.warning("Registrar rejected the test registration: %s", err)
            return {"base": "rejected"}
        except SipConfigError:
            return {"base": "no_free_port"}
        except Exception:  # noqa: BLE001 - any other failure is shown, not raised
            LOGGER.exception("Unexpected error while testing the SIP account")
            return {"base": "unknown"}
        return {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A real SIP account, or the demo company line to try Hold Slayer without one."""
        return self.async_show_menu(step_id="user", menu_options=["sip_account", "sip_trunk", "demo"])

    async def async_step_demo(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Explain the demo line, then add it (once: it is the same line for everyone)."""
        # A demo form left open (another tab, a closed dialog) must not block this one with
        # "already_in_progress" until HA restarts: whichever finishes first adds the line, and HA
        # then aborts the other.
        await self.async_set_unique_id(DEMO_UNIQUE_ID, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        # Local engines when there are (HA's default may be a cloud engine); the form says which.
        engines = await async_local_engines(self.hass)
        placeholders = {
            "stt": engines.get(CONF_STT_ENGINE, DEFAULT_ENGINE),
            "tts": engines.get(CONF_TTS_ENGINE, DEFAULT_ENGINE),
            "tts_error": "",
        }
        errors: dict[str, str] = {}
        if user_input is not None:
            if (problem := await async_cloud_tts_problem(self.hass, engines)) is None:
                return self.async_create_entry(
                    title=DEMO_TITLE,
                    data={CONF_DEMO: True},
                    options=await async_demo_options(self.hass, engines),
                )
            placeholders["tts"], placeholders["tts_error"] = problem
            errors["base"] = "tts_unreachable"
        return self.async_show_form(
            step_id="demo", data_schema=vol.Schema({}), errors=errors, description_placeholders=placeholders
        )

    async def async_step_sip_account(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the SIP account and test it."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            await self.async_set_unique_id(unique_id_for(data))
            self._abort_if_unique_id_configured()
            if not (errors := await self._async_test_account(data)):
                return self.async_create_entry(title=unique_id_for(data), data=data)
        return self.async_show_form(
            step_id="sip_account",
            data_schema=_account_schema(user_input or {}),
            errors=errors,
        )

    async def async_step_sip_trunk(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the trunk (no registration) and ping it."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**_clean(user_input), CONF_TRUNK: True}
            if not (errors := _from_number_error(data)):
                await self.async_set_unique_id(unique_id_for(data))
                self._abort_if_unique_id_configured()
                errors = await self._async_test_account(data)
            if not errors:
                return self.async_create_entry(title=unique_id_for(data), data=data)
        return self.async_show_form(
            step_id="sip_trunk", data_schema=_trunk_schema(user_input or {}), errors=errors
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The registrar rejected the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the new password and test it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_PASSWORD: user_input[CONF_PASSWORD]}
            if not (errors := await self._async_test_account(data)):
                return self._async_update_and_abort(entry, data, "reauth_successful")
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_PASSWORD): _PASSWORD}),
            description_placeholders={"account": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the account's server settings; it must stay the same account."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_DEMO):
            return self.async_abort(reason="demo_not_reconfigurable")
        trunk = bool(entry.data.get(CONF_TRUNK))
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**_clean(user_input), CONF_TRUNK: True} if trunk else _clean(user_input)
            if trunk and CONF_PASSWORD not in user_input and entry.data.get(CONF_PASSWORD):
                data[CONF_PASSWORD] = entry.data[CONF_PASSWORD]  # left empty: kept, never shown
            if not (errors := _from_number_error(data)):
                await self.async_set_unique_id(unique_id_for(data))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                errors = await self._async_test_account(data)
            if not errors:
                return self._async_update_and_abort(entry, data, "reconfigure_successful")
        schema = _trunk_schema if trunk else _account_schema
        return self.async_show_form(
            step_id="reconfigure_trunk" if trunk else "reconfigure",
            data_schema=schema(user_input or entry.data),
            errors=errors,
        )

    async def async_step_reconfigure_trunk(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The trunk's form of :meth:`async_step_reconfigure`."""
        return await self.async_step_reconfigure(user_input)

    def _async_update_and_abort(
        self, entry: ConfigEntry, data: Mapping[str, Any], reason: str
    ) -> ConfigFlowResult:
        # update + schedule_reload + abort works the same on 2025.4 and newer cores.
        self.hass.config_entries.async_update_entry(entry, data=data)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason=reason)

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> HoldSlayerOptionsFlow:
        """Options: desk phone, speech engines, decision makers, dial plan, limits."""
        return HoldSlayerOptionsFlow()


class HoldSlayerOptionsFlow(OptionsFlow):
    """Edit the entry's options (``self.config_entry`` is provided by HA; never assign it)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form with every option, validated as a whole."""
        errors: dict[str, str] = {}
        if user_input is not None:
            options, errors = validate_options(user_input)
            if not errors:
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="init",
            data_schema=build_options_schema(user_input or self.config_entry.options),
            errors=errors,
        )
