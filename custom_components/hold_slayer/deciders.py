"""The user's own AI as menu deciders: a conversation agent, an AI Task entity, an endpoint.

Each call gets its own chain (a conversation agent keeps one conversation per call):
rules for what is plain, then every model the options name, in the order AI Task (structured
replies), conversation agent, OpenAI-compatible endpoint, then the rules' last resort (a person, "all other
questions"). A model that fails or answers outside the closed action set is skipped
(:mod:`.ivr.model`). AI Task exists from HA 2025.8; it is detected, not imported, so the same
code runs on 2025.4.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import intent
from homeassistant.helpers.httpx_client import get_async_client

from .const import (
    BUILT_IN_AGENTS,
    CONF_AI_TASK_ENTITY,
    CONF_CONVERSATION_AGENT,
    CONF_OPENAI_API_KEY,
    CONF_OPENAI_BASE_URL,
    CONF_OPENAI_MODEL,
    LOGGER,
)
from .ivr.decide import Decider
from .ivr.model import ACTIONS, REPLY_FIELDS, LanguageModel, ModelError, model_chain
from .openai_endpoint import OpenAiEndpoint

AI_TASK_DOMAIN: Final = "ai_task"
AI_TASK_SERVICE: Final = "generate_data"
AI_TASK_NAME: Final = "Hold Slayer phone menu step"


class ConversationAgentModel:
    """A Home Assistant conversation agent (Ollama, OpenAI, Google, …), one conversation per call."""

    def __init__(self, hass: HomeAssistant, agent_id: str, *, language: str | None = None) -> None:
        self.hass = hass
        self.agent_id = agent_id
        self.language = language
        self.source = f"conversation agent {agent_id}"
        self._conversation_id: str | None = None
        # HA's built-in agent runs home-control intents and answers nothing else; asked a menu
        # question it matched one (HassTurnOn, the question as an area's name). Never ask it.
        self._cannot_answer: str | None = None
        if agent_id in BUILT_IN_AGENTS:
            self._cannot_answer = "Home Assistant's built-in agent answers home-control commands only"

    async def ask(self, instructions: str, question: str) -> str:
        """The agent's spoken reply; an agent that cannot answer is not asked again on this call."""
        if self._cannot_answer:
            raise ModelError(self._cannot_answer)
        try:
            result = await conversation.async_converse(
                hass=self.hass,
                text=question,
                conversation_id=self._conversation_id,
                context=Context(),
                language=self.language,
                agent_id=self.agent_id,
                extra_system_prompt=instructions,
            )
        except HomeAssistantError as err:
            raise ModelError(f"the agent failed: {type(err).__name__}") from err
        self._conversation_id = result.conversation_id
        response = result.response
        if response.response_type is intent.IntentResponseType.ERROR:
            if response.error_code is intent.IntentResponseErrorCode.NO_INTENT_MATCH:
                # An agent that only matches HA's intents has nothing to say about menus: asking it
                # again on this call cannot help.
                self._cannot_answer = "the agent matches home-control commands only (no_intent_match)"
                raise ModelError(self._cannot_answer)
            raise ModelError(f"the agent answered with an error ({response.error_code})")
        speech: str = response.speech.get("plain", {}).get("speech", "")
        if not speech:
            raise ModelError("the agent said nothing")
        return speech


def ai_task_structure() -> dict[str, Any]:
    """The reply's fields as an AI Task ``structure``: scalar text fields only."""
    structure: dict[str, Any] = {
        name: {"description": text, "required": True, "selector": {"text": {}}}
        for name, text in REPLY_FIELDS.items()
    }
    structure["action"]["selector"] = {"select": {"options": list(ACTIONS)}}
    return structure


class AiTaskModel:
    """An AI Task entity (``ai_task.generate_data``, Home Assistant 2025.8 and newer)."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        self.hass = hass
        self.entity_id = entity_id
        self.source = f"AI Task {entity_id}"

    async def ask(self, instructions: str, question: str) -> Mapping[str, Any] | str:
        """Structured data; when the provider fails with a structure, JSON text without one."""
        if not self.hass.services.has_service(AI_TASK_DOMAIN, AI_TASK_SERVICE):
            raise ModelError("AI Task is not available (Home Assistant 2025.8 or newer)")
        request = {
            "task_name": AI_TASK_NAME,
            "entity_id": self.entity_id,
            "instructions": f"{instructions}\n\n{question}",
        }
        try:
            return await self._generate({**request, "structure": ai_task_structure()})
        except HomeAssistantError as err:
            LOGGER.debug(
                "%s failed with a structure (%s); asking for JSON text", self.source, type(err).__name__
            )
        try:
            return await self._generate(request)
        except HomeAssistantError as err:
            raise ModelError(f"AI Task failed: {type(err).__name__}") from err

    async def _generate(self, data: dict[str, Any]) -> Mapping[str, Any] | str:
        response = await self.hass.services.async_call(
            AI_TASK_DOMAIN, AI_TASK_SERVICE, data, blocking=True, return_response=True
        )
        result = (response or {}).get("data")
        if isinstance(result, Mapping | str):
            return result
        raise ModelError("AI Task returned no data")


async def async_openai_endpoint(hass: HomeAssistant, options: Mapping[str, Any]) -> OpenAiEndpoint | None:
    """The line's OpenAI-compatible endpoint, sharing HA's HTTP client (no blocking TLS set-up)."""
    if not (url := options.get(CONF_OPENAI_BASE_URL)) or not (model := options.get(CONF_OPENAI_MODEL)):
        return None
    endpoint = OpenAiEndpoint(
        url, model, options.get(CONF_OPENAI_API_KEY), http_client=get_async_client(hass)
    )
    await hass.async_add_executor_job(endpoint.prepare)
    return endpoint


def decider_factory(
    hass: HomeAssistant, options: Mapping[str, Any], *, endpoint: OpenAiEndpoint | None = None
) -> Callable[[Decider | None], Decider]:
    """A fresh decider chain per call from the line's options, after the number's learned route."""

    def make(route: Decider | None = None) -> Decider:
        models: list[LanguageModel] = []
        if entity_id := options.get(CONF_AI_TASK_ENTITY):
            models.append(AiTaskModel(hass, entity_id))
        if agent_id := options.get(CONF_CONVERSATION_AGENT):
            models.append(ConversationAgentModel(hass, agent_id, language=hass.config.language))
        if endpoint is not None:
            models.append(endpoint)
        return model_chain(models, route=route)

    return make
