"""Constants for Hold Slayer."""

from __future__ import annotations

import logging
from typing import Final

from homeassistant.const import Platform

DOMAIN: Final = "hold_slayer"
LOGGER = logging.getLogger(__package__)

PLATFORMS: Final = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR]

EVENT_HOLD_SLAYER: Final = "hold_slayer_event"

# Account (config entry data). Host, port, username and password reuse homeassistant.const.
CONF_TRANSPORT: Final = "transport"
CONF_ADVANCED: Final = "advanced"
CONF_AUTH_USERNAME: Final = "auth_username"
CONF_OUTBOUND_PROXY: Final = "outbound_proxy"
CONF_CALLER_ID: Final = "caller_id"
CONF_SIP_PORTS: Final = "sip_ports"
CONF_RTP_PORTS: Final = "rtp_ports"
CONF_KEEPALIVE: Final = "keepalive_interval"  # seconds between NAT keep-alive packets; 0: none
CONF_KEEPALIVE_METHOD: Final = "keepalive_method"  # an empty line, or an OPTIONS request
CONF_REWRITE_CONTACT: Final = "rewrite_contact"  # adopt the public address the registrar reports
CONF_STUN_SERVER: Final = "stun_server"  # host[:port] of a STUN server that tells the public address
CONF_DEMO: Final = "demo"  # the entry is the demo company line (no SIP account)
# The entry is a SIP trunk taking calls without registration (by our IP address, or credentials
# on each call): ``host`` is its termination host, ``from_number`` our number on it.
CONF_TRUNK: Final = "trunk"
CONF_FROM_NUMBER: Final = "from_number"
DEMO_UNIQUE_ID: Final = "demo"

DEFAULT_SIP_PORTS: Final = "5060-5080"
DEFAULT_RTP_PORTS: Final = "10000-10999"

# Options (config entry options).
CONF_DESK_EXTENSION: Final = "desk_extension"
CONF_STT_ENGINE: Final = "stt_engine"
CONF_TTS_ENGINE: Final = "tts_engine"
CONF_TTS_VOICE: Final = "tts_voice"
CONF_CONVERSATION_AGENT: Final = "conversation_agent"
CONF_AI_TASK_ENTITY: Final = "ai_task_entity"
CONF_OPENAI_BASE_URL: Final = "openai_base_url"
CONF_OPENAI_MODEL: Final = "openai_model"
CONF_OPENAI_API_KEY: Final = "openai_api_key"
CONF_HOME_COUNTRY_CODE: Final = "home_country_code"
CONF_ALLOWED_PREFIXES: Final = "allowed_prefixes"
CONF_BLOCKED_PREFIXES: Final = "blocked_prefixes"
CONF_EMERGENCY_NUMBERS: Final = "emergency_numbers"
CONF_MAX_CONCURRENT_CALLS: Final = "max_concurrent_calls"
CONF_MAX_HOLD_MINUTES: Final = "max_hold_minutes"
CONF_CALLBACK_NUMBER: Final = "callback_number"
CONF_AGENT_PATIENCE: Final = "agent_patience"
CONF_PHONE_BOOK: Final = "phone_book"

# HA's built-in conversation agent (entity id and legacy id): it runs home-control intents and
# answers nothing else, so it is never asked a menu question (line text could match an intent).
BUILT_IN_AGENTS: Final = frozenset({"conversation.home_assistant", "homeassistant"})

DEFAULT_HOME_COUNTRY_CODE: Final = "1"
DEFAULT_MAX_CONCURRENT_CALLS: Final = 2
DEFAULT_MAX_HOLD_MINUTES: Final = 120
DEFAULT_AGENT_PATIENCE: Final = 120  # seconds Hold Slayer keeps a person waiting for the user

# How long the config flow waits for the registrar to answer the test REGISTER.
REGISTER_TEST_TIMEOUT: Final = 10.0
