"""An AI binding backed by Workers AI's REST API, directly or through AI Gateway.

CPython host only. The REST API takes the binding's inputs as its body and answers with
the binding's result inside ``{"result", "success", "errors", "messages"}``; with
``stream: true`` its body is already the binding's SSE stream, so bytes pass through.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

from llm_api.binding.events import DONE, run_result
from llm_api.binding.protocol import RunResult, SSEByteStream
from llm_api.binding.run_options import body_options, extra_headers, workers_ai_options
from llm_api.binding.upstream_errors import from_http_status, from_workers_ai_code
from llm_api.binding.workers_ai import SERVICE, model_inputs
from llm_api.catalog.live import PER_PAGE, TEXT_GENERATION, fetch_all_pages, parse_search_page
from llm_api.errors import ApiError, BackendError, ModelNotFound
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
from llm_api.sse import DONE_FRAME, SSEParser, encode_data

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
DEFAULT_GATEWAY_URL = "https://gateway.ai.cloudflare.com/v1"

_MODEL_ID = re.compile(r"^@?[A-Za-z0-9][\w.\-]*(?:/[\w.\-@]+)*$")

#: ``options["gateway"]`` keys (as the binding names them) and AI Gateway's headers
_GATEWAY_HEADERS = {
    "skipCache": "cf-aig-skip-cache",
    "cacheTtl": "cf-aig-cache-ttl",
    "cacheKey": "cf-aig-cache-key",
    "metadata": "cf-aig-metadata",
    "collectLog": "cf-aig-collect-log",
    "eventId": "cf-aig-event-id",
    "requestTimeoutMs": "cf-aig-request-timeout",
}


class WorkersAIRestBackend(RemoteBackend):
    """``run`` over ``POST {base_url}/accounts/{account_id}/ai/run/{model}``.

    With ``options={"gateway": {"id": ...}}`` the request goes through AI Gateway
    (``{gateway_url}/{account_id}/{gateway_id}/workers-ai/{model}``) with the gateway's
    cache and logging options as ``cf-aig-*`` headers, as the binding does.
    """

    engine = "workers-ai"

    def __init__(
        self,
        account_id: str,
        api_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        timeout: TimeoutArg = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(timeout=timeout)
        self._account = quote(account_id, safe="")
        self._headers = {"authorization": f"Bearer {api_token}"}
        self._base_url = base_url.rstrip("/")
        self._gateway_url = gateway_url.rstrip("/")

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        options = workers_ai_options(options)
        url, headers = self._target(model, options)
        # extraHeaders (x-session-affinity) as HTTP headers; never over ours (authorization)
        headers = {**extra_headers(options), **headers}
        body = model_inputs(model, inputs)
        body["options"] = body_options(options)  # rejectIfBusy, next to the inputs [RIB]
        if body.get("stream"):
            return await opened(self._stream(url, headers, body, model))
        with transport_errors(SERVICE):
            response = await self.http().post(url, json=body, headers=headers)
        if response.is_error:
            raise workers_ai_error(response, model)
        return _result(response, model)

    async def list_models(self) -> list[Any]:
        """The account's text models (``ModelSource``): ``GET /ai/models/search`` pages of
        ``per_page=50`` until a short page, as wrangler reads them (facts-14 §1 [API][WR])."""
        base = f"{self._base_url}/accounts/{self._account}/ai/models/search"
        task = quote(TEXT_GENERATION)

        async def page(number: int) -> list[Any]:
            url = f"{base}?task={task}&per_page={PER_PAGE}&page={number}"
            with transport_errors(SERVICE):
                response = await self.http().get(url, headers=self._headers)
            if response.is_error:
                raise workers_ai_error(response)
            return parse_search_page(read_json(response))

        return await fetch_all_pages(page)

    def _target(self, model: str, options: dict[str, Any]) -> tuple[str, dict[str, str]]:
        segments = model.split("/")
        if not _MODEL_ID.match(model) or ".." in segments or "." in segments:
            raise ModelNotFound(f"not a Workers AI model id: {model!r}", param="model")
        gateway = options.get("gateway")
        if not isinstance(gateway, dict) or not gateway.get("id"):
            return f"{self._base_url}/accounts/{self._account}/ai/run/{model}", self._headers
        gateway_id = quote(str(gateway["id"]), safe="")
        url = f"{self._gateway_url}/{self._account}/{gateway_id}/workers-ai/{model}"
        headers = dict(self._headers)
        for key, header in _GATEWAY_HEADERS.items():
            value = gateway.get(key)
            if value is None:
                continue
            if isinstance(value, bool):
                headers[header] = "true" if value else "false"
            elif isinstance(value, dict):
                headers[header] = json.dumps(value)
            else:
                headers[header] = str(value)
        return url, headers

    async def _stream(
        self, url: str, headers: dict[str, str], body: dict[str, Any], model: str
    ) -> AsyncGenerator[bytes, None]:
        headers = {**headers, "accept": "text/event-stream"}
        with transport_errors(SERVICE):
            async with self.http().stream(url, json=body, headers=headers) as response:
                if response.is_error:
                    await response.aread()
                    raise workers_ai_error(response, model)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # a model that cannot stream answers in one piece: frame it as a stream
                    await response.aread()
                    result = _result(response, model)
                    yield b""  # see remote_http.opened
                    for frame in _frames(result):
                        yield frame
                    return
                yield b""  # see remote_http.opened
                parser, last, tail = SSEParser(), b"", b""
                async with aclosing(response.aiter_bytes()) as chunks:
                    async for chunk in chunks:
                        if not chunk:
                            continue
                        tail = (tail + chunk)[-4:]
                        if any(data.strip() == DONE for data in parser.feed(chunk)):
                            last = chunk  # sent once the connection is back in the pool
                            await drain(chunks)
                            break
                        yield chunk
        if last:
            yield last
        else:  # guarantee the binding's ending, whatever upstream did
            if not tail.endswith((b"\n\n", b"\r\n\r\n", b"\r\r")):
                yield b"\n\n"
            if not any(data.strip() == DONE for data in parser.close()):
                yield DONE_FRAME


def workers_ai_error(response: Response, model: str | None = None) -> ApiError:
    """The typed error for a failed REST call: by Workers AI's code (``errors[0].code``),
    else by HTTP status (some errors carry no code, facts-14 §0.4)."""
    payload = read_json(response)
    errors = payload.get("errors") if isinstance(payload, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if isinstance(first, dict) and "code" in first:  # a code that is not a number: a 502
        message = str(first.get("message") or "")[:500]
        error = from_workers_ai_code(_code(first.get("code")), message, model=model)
    else:  # no code: by HTTP status; the text is not documented: logged, not shown (issue 12)
        error = from_http_status(response.status_code, "")
        error.message = f"{SERVICE} answered {response.status_code}"
        error.detail = error_message(response) or None
    wait = retry_after(response)
    if wait is not None and error.retryable:
        error.retry_after = wait
    return error


def _code(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 reads as inf
        return None


def _result(response: Response, model: str | None = None) -> RunResult:
    payload = read_json(response)
    if not isinstance(payload, dict):
        raise BackendError(f"{SERVICE} answered with a body that is not a JSON object")
    if payload.get("success") is False:
        raise workers_ai_error(response, model)
    return run_result(payload.get("result") if "result" in payload else payload, service=SERVICE)


def _frames(result: RunResult) -> list[bytes]:
    final = {key: value for key, value in result.items() if key not in ("response", "reasoning")}
    frames = [encode_data({"response": result["response"]})] if result["response"] else []
    if result.get("reasoning"):  # read back by events.parse_event, never as text
        frames.insert(0, encode_data({"response": "", "reasoning_content": result["reasoning"]}))
    return [*frames, encode_data({"response": "", **final}), DONE_FRAME]
