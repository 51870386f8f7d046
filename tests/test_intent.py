"""The voice command: intents (LLM tools) and the built-in agent's sentences, on a real line."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent, llm
from homeassistant.setup import async_setup_component

from custom_components.hold_slayer.const import DOMAIN
from custom_components.hold_slayer.intent import (
    INTENT_CALL,
    INTENT_HANGUP,
    INTENT_HOLD_TIME,
    async_register_sentences,
)
from custom_components.hold_slayer.models import HoldSlayerConfigEntry
from harness.servers.kamailio import Registrar
from tests.conftest import phone_book_options, setup_line

pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.registrar]

ENTRY_ID = "01JHOLDSLAYERINTENTS000001"


async def _setup(hass: HomeAssistant, registrar: Registrar) -> HoldSlayerConfigEntry:
    return await setup_line(hass, registrar, ENTRY_ID, phone_book_options(registrar))


async def _handle(hass: HomeAssistant, intent_type: str, **slots: str) -> str:
    response = await intent.async_handle(
        hass, "test", intent_type, slots={name: {"value": value} for name, value in slots.items()}
    )
    return str(response.speech["plain"]["speech"])


async def _wait_ended(hass: HomeAssistant, entry: HoldSlayerConfigEntry) -> None:
    for _ in range(200):
        await hass.async_block_till_done()
        if not entry.runtime_data.calls.active:
            return
        await hass.async_add_executor_job(lambda: None)
    raise AssertionError("the call did not end")


async def test_intents_call_ask_and_hang_up(hass: HomeAssistant, registrar: Registrar) -> None:
    """An alias resolves through the phone book; the call really starts, then hangs up."""
    entry = await _setup(hass, registrar)
    assert await _handle(hass, INTENT_HOLD_TIME) == "There is no hold call right now."
    assert await _handle(hass, INTENT_HANGUP) == "There is no hold call right now."
    speech = await _handle(hass, INTENT_CALL, company="My Bank", goal="a question about my bill")
    assert speech == "Calling Slow Company; I'll let you know when a person answers."
    [session] = entry.runtime_data.calls.active
    assert session.request.company == "Slow Company"
    assert session.request.target.startswith("sip:ringing@")
    assert session.request.goal == "a question about my bill"
    assert await _handle(hass, INTENT_HOLD_TIME) == "The call to Slow Company is not on hold yet."
    assert await _handle(hass, INTENT_HANGUP) == "I hung up the call to Slow Company."
    await _wait_ended(hass, entry)


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        ({}, "Which company or number should I call?"),
        ({"company": "Pizza Palace"}, "The line's phone book has no company called Pizza Palace"),
        ({"company": "911"}, "Hold Slayer never calls emergency numbers"),
        ({"number": "1-900-555-0100"}, "Premium-rate numbers are refused"),
    ],
)
async def test_intent_refusals(
    hass: HomeAssistant, registrar: Registrar, slots: dict[str, str], message: str
) -> None:
    """Refusals come from the same validation as the action, as speech; no call is placed."""
    entry = await _setup(hass, registrar)
    with pytest.raises(intent.IntentHandleError) as caught:
        await _handle(hass, INTENT_CALL, **slots)
    assert str(caught.value).startswith(message)
    assert not entry.runtime_data.calls.sessions


async def test_intent_without_a_line(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(intent.IntentHandleError) as caught:
        await _handle(hass, INTENT_CALL, company="Acme")
    assert str(caught.value) == "No Hold Slayer line is ready to make calls."


async def test_built_in_agent_sentences(hass: HomeAssistant, registrar: Registrar) -> None:
    """HA's own agent understands the three sentences (sentence triggers)."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    entry = await _setup(hass, registrar)

    async def say(text: str) -> Any:
        result = await conversation.async_converse(hass, text, None, Context(), language="en")
        return result.response.speech["plain"]["speech"]

    assert await say("call my bank and wait on hold for me") == (
        "Calling Slow Company; I'll let you know when a person answers."
    )
    assert len(entry.runtime_data.calls.active) == 1
    assert await say("how long have I been on hold") == "The call to Slow Company is not on hold yet."
    assert await say("hang up the hold call") == "I hung up the call to Slow Company."
    await _wait_ended(hass, entry)
    assert await say("call pizza palace and wait on hold") == (
        "The line's phone book has no company called pizza palace; give its number, or add it "
        "to the phone book in the line's options"  # HA drops the full stop of exception messages
    )


async def test_llm_agents_get_the_intents_as_tools(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, DOMAIN, {})
    api = await llm.async_get_api(
        hass,
        "assist",
        llm.LLMContext(
            platform="test",
            context=Context(),
            user_prompt=None,
            language="en",
            assistant=None,
            device_id=None,
        ),
    )
    tools = {tool.name: tool for tool in api.tools}
    assert {"HoldSlayerCall", "HoldSlayerHangup", "HoldSlayerHoldTime"} <= set(tools)
    assert "wait on hold" in (tools["HoldSlayerCall"].description or "")


async def test_sentence_registration_failure_is_logged(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the built-in agent (the private API missing), a warning, never an exception."""
    caplog.set_level(logging.WARNING)
    unregister = async_register_sentences(hass)
    unregister()
    assert "Could not add Hold Slayer's sentences" in caplog.text
