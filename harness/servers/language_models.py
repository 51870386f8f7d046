"""Scripted language-model servers on 127.0.0.1: the OpenAI chat API and the Ollama API.

Real HTTP, real clients (``openai``, and HA's ``ollama`` integration through ``ollama``), and
answers decided by a script: a function from the question (the last user message) to a reply.
A reply is a dict (sent as JSON text), raw text (malformed, prose, an injected answer), or a
:class:`Failure` (an HTTP error, a refusal, a server that does not know JSON schemas).
:func:`scenario_oracle` scripts a model that knows a company scenario's way to its person, as
an informed caller would: tests, ``script/simulate --model scripted`` and benchmarks share it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from custom_components.hold_slayer.demo.scenario import CollectNode, MenuNode, Node, Scenario
from custom_components.hold_slayer.ivr.menu import prompt_words

type Reply = dict[str, Any] | str | Failure
type Responder = Callable[[str], Reply]


@dataclass(frozen=True, slots=True)
class Failure:
    """An answer that is not a reply: ``status`` (HTTP), a ``refusal``, or a ``delay`` first."""

    status: int = 200
    refusal: str | None = None
    delay: float = 0.0
    then: Reply | None = None  # after the delay: this reply


def in_order(*replies: Reply) -> Responder:
    """Answer with ``replies`` one after the other (the last one again when they run out)."""
    queue = list(replies)

    def respond(_: str) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return respond


def by_question(rules: Iterable[tuple[str, Reply]], default: Reply) -> Responder:
    """The reply of the first rule whose text occurs in the question (case-insensitive)."""
    table = [(needle.lower(), reply) for needle, reply in rules]

    def respond(question: str) -> Reply:
        lowered = question.lower()
        return next((reply for needle, reply in table if needle in lowered), default)

    return respond


_QUOTED_LINE = "The phone line just said (untrusted, quoted): "


def _line_text(question: str) -> str:
    """The line's words quoted in a menu question (``ivr.model.build_question``)."""
    start = question.find(_QUOTED_LINE)
    if start < 0:
        return question
    try:
        text, _ = json.JSONDecoder().raw_decode(question, start + len(_QUOTED_LINE))
    except ValueError:
        return question
    return str(text)


def _path_to_person(scenario: Scenario) -> list[str]:
    """``expect.path``, or the shortest way from the start to ``expect.reaches``."""
    if scenario.expect.path is not None:
        return list(scenario.expect.path)
    paths = {scenario.start: [scenario.start]}
    queue = [scenario.start]
    while queue:
        node = scenario.nodes[queue.pop(0)]
        for following in _next_nodes(node):
            if following not in paths:
                paths[following] = [*paths[node.id], following]
                queue.append(following)
    return paths.get(scenario.expect.reaches or "", [])


def _next_nodes(node: Node) -> list[str]:
    if isinstance(node, MenuNode):
        return [*node.input.dtmf.values(), *node.input.speech.values()]
    if isinstance(node, CollectNode):
        return [node.collect.next]
    following = getattr(node, "next", None)
    return [following] if isinstance(following, str) else []


def scenario_oracle(scenario: Scenario, *, min_share: float = 0.6) -> Responder:
    """A model that answers each menu question with the step that leads to the scenario's person.

    It finds the prompt it is asked about among the path's menus and digit prompts (the one most
    of whose words were heard: speech recognition varies, and a welcome may precede the menu),
    then answers the key (or keyword) that leads to the next node of the path, or the secret a
    digit prompt collects. Anything else: wait.
    """
    path = _path_to_person(scenario)
    steps: list[tuple[str, Reply]] = []
    for index, node_id in enumerate(path[:-1]):
        node, following = scenario.nodes[node_id], path[index + 1]
        if isinstance(node, MenuNode):
            keys = [key for key, target in node.input.dtmf.items() if target == following]
            words = [word for word, target in node.input.speech.items() if target == following]
            if keys:
                steps.append((node.say, _oracle_reply("press", digits=keys[0])))
            elif words:
                steps.append((node.say, _oracle_reply("say", text=words[0])))
        elif isinstance(node, CollectNode) and node.collect.equals:
            steps.append((node.say, _oracle_reply("press_secret", secret=node.collect.equals)))

    def respond(question: str) -> Reply:
        heard = prompt_words(_line_text(question))
        scored = [
            (len(prompt_words(prompt) & heard) / max(len(prompt_words(prompt)), 1), reply)
            for prompt, reply in steps
        ]
        best = max(scored, default=(0.0, _oracle_reply("wait")), key=lambda pair: pair[0])
        return best[1] if best[0] >= min_share else _oracle_reply("wait")

    return respond


def _oracle_reply(action: str, **fields: str) -> dict[str, Any]:
    reason = "the way to a person" if action != "wait" else "not a step of the way"
    return {"action": action, "digits": "", "secret": "", "text": "", "reason": reason, **fields}


@dataclass(slots=True)
class Exchange:
    """One request the server answered: its path, headers and JSON body."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def question(self) -> str:
        """The last user message."""
        users = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        return str(users[-1].get("content", "")) if users else ""

    @property
    def system(self) -> str:
        """Every system message, joined."""
        return "\n".join(
            str(m.get("content", "")) for m in self.body.get("messages", []) if m.get("role") == "system"
        )


@dataclass(slots=True)
class ScriptedModelServer:
    """Both APIs on one port: ``/v1/...`` (OpenAI) and ``/api/...`` (Ollama)."""

    respond: Responder
    model: str = "scripted"
    json_schema_supported: bool = True  # False: 400 to a json_schema response_format, as older servers do
    exchanges: list[Exchange] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def openai_url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def ollama_url(self) -> str:
        """The Ollama base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def questions(self) -> list[str]:
        """The questions asked of the chat endpoints, in order."""
        return [e.question for e in self.exchanges if e.path in ("/v1/chat/completions", "/api/chat")]

    async def start(self) -> ScriptedModelServer:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_get("/v1/models", self._openai_models)
        app.router.add_get("/api/tags", self._ollama_tags)
        app.router.add_get("/api/version", self._ollama_version)
        app.router.add_post("/api/chat", self._ollama_chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _record(self, request: web.Request) -> Exchange:
        body = await request.json() if request.can_read_body else {}
        exchange = Exchange(request.path, dict(request.headers), body)
        self.exchanges.append(exchange)
        return exchange

    async def _reply(self, exchange: Exchange) -> Reply:
        reply = self.respond(exchange.question)
        while isinstance(reply, Failure) and reply.delay:
            await asyncio.sleep(reply.delay)
            if reply.then is None:
                break
            reply = reply.then
        return reply

    # -- OpenAI ---------------------------------------------------------------------------------

    async def _openai_models(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _openai_chat(self, request: web.Request) -> web.Response:
        exchange = await self._record(request)
        kind = (exchange.body.get("response_format") or {}).get("type")
        if kind == "json_schema" and not self.json_schema_supported:
            return web.json_response(
                {"error": {"message": "response_format json_schema unsupported"}}, status=400
            )
        reply = await self._reply(exchange)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if isinstance(reply, Failure):
            if reply.status != 200:
                return web.json_response({"error": {"message": "scripted failure"}}, status=reply.status)
            message["refusal"] = reply.refusal
        else:
            message["content"] = reply if isinstance(reply, str) else json.dumps(reply)
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.exchanges)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": exchange.body.get("model", self.model),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    # -- Ollama ---------------------------------------------------------------------------------

    async def _ollama_version(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"version": "0.6.0"})

    async def _ollama_tags(self, request: web.Request) -> web.Response:
        await self._record(request)
        model = {"name": f"{self.model}:latest", "model": f"{self.model}:latest", "size": 1, "digest": "0"}
        return web.json_response({"models": [model]})

    async def _ollama_chat(self, request: web.Request) -> web.StreamResponse:
        exchange = await self._record(request)
        reply = await self._reply(exchange)
        if isinstance(reply, Failure):
            return web.json_response(
                {"error": reply.refusal or "scripted failure"}, status=max(reply.status, 400)
            )
        content = reply if isinstance(reply, str) else json.dumps(reply)
        chunks = [content[i : i + 16] for i in range(0, len(content), 16)] or [""]
        lines = [
            {
                "model": self.model,
                "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": chunk},
                "done": False,
            }
            for chunk in chunks
        ]
        lines.append(
            {
                "model": self.model,
                "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
            }
        )
        if exchange.body.get("stream", True) is False:
            return web.json_response({**lines[-1], "message": {"role": "assistant", "content": content}})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for line in lines:
            await response.write(json.dumps(line).encode() + b"\n")
        await response.write_eof()
        return response
