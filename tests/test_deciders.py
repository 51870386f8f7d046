"""The options' deciders in Home Assistant: HA's own Ollama agent against a scripted Ollama server,
HA's built-in agent (which cannot answer), AI Task where HA has it, and the OpenAI-compatible
endpoint through HA's HTTP client. Each line is a real entry on a real registrar."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from homeassistant.components import conversation
from homeassistant.components.conversation.models import AbstractConversationAgent
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.hold_slayer.const import (
    CONF_AI_TASK_ENTITY,
    CONF_CONVERSATION_AGENT,
    CONF_HOME_COUNTRY_CODE,
    CONF_OPENAI_API_KEY,
    CONF_OPENAI_BASE_URL,
    CONF_OPENAI_MODEL,
)
from custom_components.hold_slayer.deciders import AI_TASK_DOMAIN, AI_TASK_SERVICE, ai_task_structure
from custom_components.hold_slayer.ivr.decide import ChainDecider, DecisionContext, Press
from custom_components.hold_slayer.ivr.menu import parse_prompt
from custom_components.hold_slayer.ivr.model import INSTRUCTIONS, ModelDecider
from custom_components.hold_slayer.ivr.rules import RulesDecider, StuckGuard
from harness.servers.kamailio import Registrar
from harness.servers.language_models import ScriptedModelServer, by_question
from tests.conftest import setup_line

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.registrar]

ENTRY_ID = "deciderline"
MENU = (
    "If a purchase you don't recognise shows on your statement, press 1. To talk about your savings, "
    "press 2. For everything else, press 3."
)
GOAL = "someone used my debit card without permission"
API_KEY = "sk-ha-5ecret"
PLACED = {"action": "press", "digits": "1", "secret": "", "text": "", "reason": "an unknown purchase"}


def _context(goal: str = GOAL) -> DecisionContext:
    return DecisionContext(goal, parse_prompt(MENU))


@pytest.fixture
async def model_server() -> AsyncIterator[ScriptedModelServer]:
    """A scripted Ollama / OpenAI-compatible server that places the card menu on key 1."""
    server = ScriptedModelServer(
        by_question([("savings", PLACED)], default={"action": "wait", "reason": "?"})
    )
    await server.start()
    yield server
    await server.stop()


async def _line(hass: HomeAssistant, registrar: Registrar, **options: Any) -> MockConfigEntry:
    return await setup_line(hass, registrar, ENTRY_ID, {CONF_HOME_COUNTRY_CODE: "1", **options})


def _models(decider: Any) -> list[str]:
    assert isinstance(decider, ChainDecider)
    return [d.source for d in decider.deciders if isinstance(d, ModelDecider)]


async def test_no_ai_options_rules_only(hass: HomeAssistant, registrar: Registrar) -> None:
    entry = await _line(hass, registrar)
    decider = entry.runtime_data.calls.make_decider(None)
    assert isinstance(decider, ChainDecider)
    assert [type(d) for d in decider.deciders] == [StuckGuard, RulesDecider]


async def test_ollama_conversation_agent_decides(
    hass: HomeAssistant, registrar: Registrar, model_server: ScriptedModelServer
) -> None:
    """HA's real Ollama integration (its agent, chat log and client) answers the menu question."""
    assert await async_setup_component(hass, "homeassistant", {})
    ollama = MockConfigEntry(
        domain="ollama", title="Scripted", data={"url": model_server.ollama_url, "model": "scripted:latest"}
    )
    ollama.add_to_hass(hass)
    assert await hass.config_entries.async_setup(ollama.entry_id)
    await hass.async_block_till_done()
    assert ollama.state is ConfigEntryState.LOADED
    agent_id = er.async_get(hass).async_get_entity_id("conversation", "ollama", ollama.entry_id)
    assert agent_id is not None

    entry = await _line(hass, registrar, **{CONF_CONVERSATION_AGENT: agent_id})
    decider = entry.runtime_data.calls.make_decider(None)
    assert _models(decider) == [f"conversation agent {agent_id}"]
    action = await decider.decide(_context())
    assert action == Press("1", reason="an unknown purchase", source=f"conversation agent {agent_id}")
    (question,) = model_server.questions
    assert GOAL in question
    chat = next(e for e in model_server.exchanges if e.path == "/api/chat")
    # Our rules reach the model as the agent's extra system prompt, beside the agent's own.
    assert INSTRUCTIONS in chat.system
    # A second question on the same call continues the same conversation.
    await decider.decide(_context())
    chats = [e for e in model_server.exchanges if e.path == "/api/chat"]
    assert len(chats) == 2
    assert len([m for m in chats[1].body["messages"] if m["role"] == "user"]) == 2


class _IntentsOnlyAgent(AbstractConversationAgent):
    """An agent that hands every text to HA's built-in agent and answers only what matches, as
    agents that "prefer handling commands locally" do; it passes on a fixed, harmless sentence."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.asked = 0

    @property
    def supported_languages(self) -> list[str]:
        return ["en"]

    async def async_process(
        self, user_input: conversation.ConversationInput
    ) -> conversation.ConversationResult:
        self.asked += 1
        return await conversation.async_converse(
            self.hass,
            "xyzzy plugh",
            None,
            user_input.context,
            agent_id=conversation.HOME_ASSISTANT_AGENT,
        )


async def test_built_in_agent_is_never_asked(hass: HomeAssistant, registrar: Registrar) -> None:
    """Asked a menu question, HA 2025.4.4's built-in agent matched HassTurnOn (the whole question
    taken for an area's name): line text must never reach it. An old option naming it falls through."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    handled: list[str] = []

    class _Spy(intent.IntentHandler):
        intent_type = intent.INTENT_TURN_ON

        async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
            handled.append(intent_obj.intent_type)
            return intent_obj.create_response()

    intent.async_register(hass, _Spy())
    entry = await _line(hass, registrar, **{CONF_CONVERSATION_AGENT: conversation.HOME_ASSISTANT_AGENT})
    decider = entry.runtime_data.calls.make_decider(None)
    action = await decider.decide(_context())
    assert action == Press("3", reason="no option matches the goal; 'everything else'", source="rules")
    assert handled == []


async def test_an_agent_that_only_matches_intents_falls_through(
    hass: HomeAssistant, registrar: Registrar, caplog: pytest.LogCaptureFixture
) -> None:
    """no_intent_match (from HA's real built-in agent, relayed): the rules' last resort decides,
    and the agent is not asked again on this call."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    agent_entry = MockConfigEntry(domain="test_intents_only")
    agent_entry.add_to_hass(hass)
    agent = _IntentsOnlyAgent(hass)
    conversation.async_set_agent(hass, agent_entry, agent)
    entry = await _line(hass, registrar, **{CONF_CONVERSATION_AGENT: agent_entry.entry_id})
    decider = entry.runtime_data.calls.make_decider(None)
    for _ in range(2):
        action = await decider.decide(_context())
        assert action == Press("3", reason="no option matches the goal; 'everything else'", source="rules")
    assert agent.asked == 1
    assert caplog.text.count("no_intent_match") == 2  # once when answered, once when passed over


async def test_ai_task_where_home_assistant_has_it(hass: HomeAssistant, registrar: Registrar) -> None:
    """AI Task (HA 2025.8+): a structure of scalar fields; a provider that fails with one is asked
    again without it. On an older HA there is no such action and the chain passes it over."""
    entry = await _line(hass, registrar, **{CONF_AI_TASK_ENTITY: "ai_task.scripted"})
    decider = entry.runtime_data.calls.make_decider(None)
    assert _models(decider) == ["AI Task ai_task.scripted"]
    if not hass.services.has_service(AI_TASK_DOMAIN, AI_TASK_SERVICE):
        assert await decider.decide(_context()) == Press(
            "3", reason="no option matches the goal; 'everything else'", source="rules"
        )
    requests: list[dict[str, Any]] = []

    async def generate(call: ServiceCall) -> ServiceResponse:
        # Stands in for the ai_task action HA 2025.4 lacks: a provider that refuses structures.
        requests.append(dict(call.data))
        if "structure" in call.data:
            raise HomeAssistantError("structured output is not supported")
        return {"conversation_id": "x", "data": f"```json\n{PLACED}\n```".replace("'", '"')}

    if not hass.services.has_service(AI_TASK_DOMAIN, AI_TASK_SERVICE):
        hass.services.async_register(
            AI_TASK_DOMAIN, AI_TASK_SERVICE, generate, supports_response=SupportsResponse.ONLY
        )
        decider = entry.runtime_data.calls.make_decider(None)
        action = await decider.decide(_context())
        assert action == Press("1", reason="an unknown purchase", source="AI Task ai_task.scripted")
        assert [("structure" in r) for r in requests] == [True, False]
        assert requests[0]["structure"] == ai_task_structure()
        assert requests[0]["entity_id"] == "ai_task.scripted"
        assert GOAL in requests[1]["instructions"]


async def test_openai_endpoint_from_the_options(
    hass: HomeAssistant,
    registrar: Registrar,
    model_server: ScriptedModelServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    entry = await _line(
        hass,
        registrar,
        **{
            CONF_OPENAI_BASE_URL: model_server.openai_url,
            CONF_OPENAI_MODEL: "scripted",
            CONF_OPENAI_API_KEY: API_KEY,
        },
    )
    decider = entry.runtime_data.calls.make_decider(None)
    assert _models(decider) == ["OpenAI-compatible model scripted"]
    action = await decider.decide(_context())
    assert action == Press("1", reason="an unknown purchase", source="OpenAI-compatible model scripted")
    (exchange,) = [e for e in model_server.exchanges if e.path == "/v1/chat/completions"]
    assert exchange.headers["Authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in caplog.text


async def test_every_option_in_order(
    hass: HomeAssistant, registrar: Registrar, model_server: ScriptedModelServer
) -> None:
    """AI Task, conversation agent, endpoint: each is asked only when the one before passes."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    entry = await _line(
        hass,
        registrar,
        **{
            CONF_CONVERSATION_AGENT: conversation.HOME_ASSISTANT_AGENT,
            CONF_AI_TASK_ENTITY: "ai_task.missing",
            CONF_OPENAI_BASE_URL: model_server.openai_url,
            CONF_OPENAI_MODEL: "scripted",
        },
    )
    decider = entry.runtime_data.calls.make_decider(None)
    assert _models(decider) == [
        "AI Task ai_task.missing",
        f"conversation agent {conversation.HOME_ASSISTANT_AGENT}",
        "OpenAI-compatible model scripted",
    ]
    action = await decider.decide(_context())
    assert action is not None
    assert action.source == "OpenAI-compatible model scripted"
    assert isinstance(decider, ChainDecider)
    assert decider.calls == 3
