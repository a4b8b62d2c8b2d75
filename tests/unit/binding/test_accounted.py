"""Usage and model permissions are passed explicitly (``Caller.account``), so no wrapper
order decides whether a request is checked or counted."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from llm_api.binding.accounted import UNMETERED, KeyAccount
from llm_api.binding.resilient import CallPolicy, ResilientAI
from llm_api.catalog import resolve_model
from llm_api.errors import Forbidden
from llm_api.keys import new_key
from llm_api.services.generation import Caller, GenerationRequest, complete, open_stream
from llm_api.usage import MemoryUsageStore
from tests.support.scripted_ai import ScriptedAI

MODEL = resolve_model("llama-3.1-8b-instruct")


class Outer:
    """A wrapper that knows nothing of accounts (as the rate-limit admission is)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.engine = inner, inner.engine

    async def run(self, model: str, inputs: dict[str, Any], options: Any = None) -> Any:
        return await self.inner.run(model, inputs, options)


def account(allowed: list[str] | None = None) -> tuple[KeyAccount, MemoryUsageStore]:
    store = MemoryUsageStore()
    return KeyAccount(new_key("app", allowed_models=allowed)[1], store), store


def request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, prompt="hi")


def test_usage_is_recorded_whatever_wraps_the_binding():
    ai, (key_account, store) = ScriptedAI(), account()
    ai.script(text="hello there", usage={"prompt_tokens": 7, "completion_tokens": 3})
    caller = Caller(Outer(ResilientAI(Outer(ai), CallPolicy())), key_account)
    asyncio.run(complete(caller, request()))
    [entry] = asyncio.run(store.usage(key_account.key.key_id))
    assert (entry.prompt_tokens, entry.completion_tokens) == (7, 3)


def test_a_streams_usage_is_recorded_at_its_end():
    ai, (key_account, store) = ScriptedAI(), account()
    ai.script(text="one two", usage={"prompt_tokens": 5, "completion_tokens": 2})

    async def drain() -> None:
        items = await open_stream(Caller(Outer(ai), key_account), request())
        async for _ in items:
            pass

    asyncio.run(drain())
    [entry] = asyncio.run(store.usage(key_account.key.key_id))
    assert (entry.prompt_tokens, entry.completion_tokens) == (5, 2)


@pytest.mark.parametrize("stream", [False, True])
def test_a_model_the_key_may_not_use_is_refused_before_any_model_call(stream: bool):
    ai, (key_account, store) = ScriptedAI(), account(allowed=["@cf/other/model"])
    call = open_stream if stream else complete
    with pytest.raises(Forbidden, match=re.escape("may not use '@cf/meta/llama-3.1-8b-instruct'")):
        asyncio.run(call(Caller(ai, key_account), request()))
    assert ai.calls == []
    assert asyncio.run(store.usage(key_account.key.key_id)) == []


def test_unmetered_caller_may_use_any_model():
    ai = ScriptedAI()
    completion = asyncio.run(complete(Caller(ai, UNMETERED), request()))
    assert completion.text and len(ai.calls) == 1
