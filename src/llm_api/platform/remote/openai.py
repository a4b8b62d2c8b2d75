"""An AI binding backed by any OpenAI-compatible chat completions server.

vLLM, llama.cpp's server, Ollama, DashScope... CPython host only. Workers AI inputs
become a ``/chat/completions`` request; the answer (or its ``chat.completion.chunk``
stream) comes back in the binding's shape, so the app cannot tell this from ``env.AI``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from llm_api.binding.events import (
    StreamAssembler,
    StreamEvent,
    openai_tool_call,
    parse_event,
    run_result,
)
from llm_api.binding.protocol import LOGPROBS, RunResult, SSEByteStream
from llm_api.binding.upstream_errors import from_http_status
from llm_api.errors import ApiError, BackendError, InvalidRequest
from llm_api.platform.remote.client import Response
from llm_api.platform.remote.http import (
    DEFAULT_TIMEOUT,
    RemoteBackend,
    TimeoutArg,
    drain,
    error_message,
    opened,
    read_json,
    retry_after,
    transport_errors,
)
from llm_api.sse import (
    DONE_FRAME,
    encode_data,
    encode_response,
    iter_sse_data,
)

SERVICE = "the upstream model server"

#: Inputs sent under the same name. ``top_k`` and ``repetition_penalty`` are not OpenAI
#: parameters, but vLLM, llama.cpp's server and Ollama read them from the body, and
#: OpenAI-compatible servers ignore fields they do not know; sending them keeps the
#: request's meaning instead of silently dropping it.
_PASSED = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "tool_choice",
    "logprobs",
    "top_logprobs",
)


class OpenAICompatibleBackend(RemoteBackend):
    """``run`` against ``{base_url}/chat/completions`` (``base_url`` like ``http://host:8000/v1``).

    ``model`` is the upstream's model name; without it the catalog id is sent as is. The
    engine name says which model answers, never the URL or the key. Token log-probabilities
    pass through (an upstream that gives none answers ``logprobs: null``).
    """

    features = frozenset({LOGPROBS})

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: TimeoutArg = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(timeout=timeout)
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self.engine = f"openai:{model or 'catalog-id'}"

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        body = chat_request(self._model or model, inputs)
        if body.get("stream"):
            return await opened(self._stream(body))
        with transport_errors(SERVICE):
            response = await self.http().post(self._url, json=body, headers=self._headers)
        if response.is_error:
            raise http_error(response)
        payload = read_json(response)
        if not isinstance(payload, dict):
            raise BackendError(f"{SERVICE} answered with a body that is not a JSON object")
        return run_result(payload, service=SERVICE)

    async def _stream(self, body: dict[str, Any]) -> AsyncGenerator[bytes, None]:
        headers = {**self._headers, "accept": "text/event-stream"}
        assembler, done = StreamAssembler(SERVICE), False
        with transport_errors(SERVICE):
            async with self.http().stream(self._url, json=body, headers=headers) as response:
                if response.is_error:
                    await response.aread()
                    raise http_error(response)
                yield b""  # see remote_http.opened
                async with aclosing(iter_sse_data(response.aiter_bytes())) as events:
                    async for data in events:
                        event = parse_event(data)
                        if event is None:
                            done = True
                            break
                        text = assembler.feed(event)
                        if event.logprobs:
                            yield encode_data({"response": text, "logprobs": event.logprobs})
                        elif text:
                            yield encode_response(text)
                        if event.fragments or event.tool_calls:  # passed on as they arrive
                            yield _calls_frame(event)
                    if done:
                        await drain(events)
        # The connection is back in the pool before the last frames: a consumer that
        # stops reading at [DONE] must not cost the next stream a new connection.
        if not done and not assembler.finished:
            raise BackendError(f"{SERVICE} ended the stream before the answer was complete")
        final = assembler.result()
        calls = final.pop("tool_calls", None)  # sent already, fragment by fragment
        if calls and "finish_reason" not in final:
            final["finish_reason"] = "tool_calls"
        yield encode_data(final)
        yield DONE_FRAME


def _calls_frame(event: StreamEvent) -> bytes:
    """An event's tool calls in the binding's stream: fragments keep their ``index`` (the
    generation service merges them), whole calls have none."""
    fragments = [
        {
            "index": fragment["index"],
            "id": fragment["id"] or None,
            "function": {"name": fragment["name"] or None, "arguments": fragment["arguments"]},
        }
        for fragment in event.fragments
    ]
    return encode_data({"response": "", "tool_calls": [*event.tool_calls, *fragments]})


def http_error(response: Response) -> ApiError:
    return from_http_status(
        response.status_code, error_message(response), retry_after=retry_after(response)
    )


def chat_request(model: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The ``/chat/completions`` body for Workers AI text-generation ``inputs``."""
    body: dict[str, Any] = {"model": model, "messages": openai_messages(inputs)}
    for key in _PASSED:
        if inputs.get(key) is not None:
            body[key] = inputs[key]
    if inputs.get("response_format") is not None:
        body["response_format"] = _response_format(inputs["response_format"])
    if inputs.get("tools"):
        body["tools"] = [_tool(tool) for tool in inputs["tools"]]
    if inputs.get("stream"):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def openai_messages(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    messages = inputs.get("messages")
    if messages is None:
        prompt = inputs.get("prompt")
        if not isinstance(prompt, str):
            raise InvalidRequest("inputs need a `prompt` or `messages`", param="messages")
        return [{"role": "user", "content": prompt}]
    result: list[dict[str, Any]] = []
    unanswered: list[tuple[str, str]] = []  # (id, name) of tool calls awaiting a result
    for position, message in enumerate(messages):
        out = {k: v for k, v in message.items() if v is not None or k == "content"}
        if message.get("tool_calls"):
            out["tool_calls"] = [
                openai_tool_call(call, default_id=f"call_{position}_{index}")
                for index, call in enumerate(message["tool_calls"])
            ]
            unanswered = [(c["id"], c["function"]["name"]) for c in out["tool_calls"]]
        if message.get("role") == "tool":
            out.pop("name", None)  # not part of OpenAI's tool message
            if not out.get("tool_call_id"):
                out["tool_call_id"] = _answered_call(unanswered, message.get("name"))
            if not isinstance(out.get("content"), str):
                out["content"] = json.dumps(out.get("content"))
        result.append(out)
    return result


def _answered_call(unanswered: list[tuple[str, str]], name: str | None) -> str:
    """The id a tool result without ``tool_call_id`` answers: by name, else the next one."""
    if not unanswered:
        return "call_unknown"
    for index, (_, call_name) in enumerate(unanswered):
        if name and call_name == name:
            return unanswered.pop(index)[0]
    return unanswered.pop(0)[0]


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Workers AI also takes the bare ``{name, description, parameters}`` form."""
    if "function" in tool:
        return tool
    return {"type": "function", "function": tool}


def _response_format(value: dict[str, Any]) -> dict[str, Any]:
    """Workers AI's ``json_schema`` is the schema itself; OpenAI's wraps it with a name."""
    schema = value.get("json_schema")
    if value.get("type") != "json_schema" or not isinstance(schema, dict):
        return value
    if isinstance(schema.get("schema"), dict):
        return value  # already OpenAI's {name, schema, strict?}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
