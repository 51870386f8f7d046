"""An OpenAI-compatible chat endpoint (Ollama, LM Studio, vLLM, OpenAI) as a menu decider's model.

The one module that imports ``openai``. Replies are asked for as a strict JSON schema; servers
that do not support one (HTTP 400) are asked once more for a plain JSON object. The API key
goes only into the request's authorisation header: errors are reported by their HTTP status,
never with the request or the key.
"""

from __future__ import annotations

from typing import Any, Final

import httpx
import openai

from .ivr.model import MODEL_TIMEOUT, ModelError, reply_json_schema

NO_KEY: Final = "no-key"  # local servers want no key, but the client insists on one


class OpenAiEndpoint:
    """Chat completions at ``base_url`` with ``model``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = MODEL_TIMEOUT,
    ) -> None:
        self.model = model
        self.source = f"OpenAI-compatible model {model}"
        self._owns_client = http_client is None
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or NO_KEY,
            timeout=timeout,
            max_retries=0,  # a menu does not wait: the next decider is asked instead
            http_client=http_client,
        )

    def prepare(self) -> None:
        """Read the platform facts the client sends with each request (blocking: an executor's job).

        The client caches them; read lazily they would block the event loop on the first call.
        """
        self._client.platform_headers()

    async def ask(self, instructions: str, question: str) -> str:
        """The model's reply text (JSON); :class:`ModelError` when there is none."""
        messages: list[Any] = [
            {"role": "system", "content": instructions},
            {"role": "user", "content": question},
        ]
        schema: Any = {
            "type": "json_schema",
            "json_schema": {"name": "phone_menu_step", "strict": True, "schema": reply_json_schema()},
        }
        try:
            return await self._complete(messages, schema)
        except openai.BadRequestError:
            pass  # no JSON schema support here: ask for a JSON object instead
        try:
            return await self._complete(messages, {"type": "json_object"})
        except openai.BadRequestError as err:
            raise ModelError("the endpoint refused the request (HTTP 400)") from err

    async def _complete(self, messages: list[Any], response_format: Any) -> str:
        try:
            completion = await self._client.chat.completions.create(
                model=self.model, messages=messages, response_format=response_format, temperature=0
            )
        except openai.BadRequestError:
            raise
        except openai.APIStatusError as err:
            raise ModelError(f"the endpoint answered HTTP {err.status_code}") from err
        except openai.APITimeoutError as err:
            raise ModelError("the endpoint did not answer in time") from err
        except openai.APIError as err:
            raise ModelError(f"the endpoint failed: {type(err).__name__}") from err
        if not completion.choices:
            raise ModelError("the endpoint returned no choice")
        message = completion.choices[0].message
        if message.refusal:
            raise ModelError("the model refused")
        if not message.content:
            raise ModelError("the model returned no text")
        return message.content

    async def close(self) -> None:
        """Close the client's own connections (a shared HTTP client stays open)."""
        if self._owns_client:
            await self._client.close()
