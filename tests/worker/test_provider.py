"""llm_api.platform.workers.provider: env.AI through the JS boundary, and the platform from env.

Runs the module against the fake JS surface in tests/workers_fake, with the real
workers SDK's env wrapper where the runtime would use it.
"""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType
from typing import Any

import pytest

from llm_api.errors import (
    BackendBusy,
    BackendError,
    BackendQuotaExceeded,
    BackendTimeout,
    ModelNotFound,
    PayloadTooLarge,
)
from llm_api.settings import ConfigError, Settings
from tests.support.workers_fake import installed
from tests.support.workers_fake.bindings import FakeAI, worker_env
from tests.support.workers_fake.ffi import JsArray, JsException, JsMap, JsObject
from tests.support.workers_fake.js import ReadableStream

MODEL = "@cf/meta/llama-3.1-8b-instruct"


@pytest.fixture
def workers() -> ModuleType:
    with installed():
        yield importlib.import_module("llm_api.platform.workers.provider")


@pytest.fixture
def sdk(workers: ModuleType) -> ModuleType:
    return importlib.import_module("workers")


def run(workers: ModuleType, ai: Any, inputs: dict[str, Any], options: Any = None) -> Any:
    return asyncio.run(workers.WorkersAIBinding(ai).run(MODEL, inputs, options))


def js_types(value: Any) -> set[str]:
    """The JS types of ``value`` and of everything inside it."""
    if isinstance(value, JsObject | JsMap):
        inner = list(value.js_entries.values())
    elif isinstance(value, JsArray):
        inner = value.items
    else:
        return set()
    return {value.js_name}.union(*(js_types(item) for item in inner))


# --- inputs ---------------------------------------------------------------------------


def test_inputs_and_options_reach_the_binding_as_plain_js_objects(workers):
    ai = FakeAI({"response": "ok"})
    inputs = {
        "messages": [{"role": "user", "content": "Hallo"}],
        "max_tokens": 8,
        "response_format": {"type": "json_object"},
        "seed": None,
    }
    run(workers, ai, inputs, {"gateway": {"id": "tutor", "skipCache": True}})

    model, sent_inputs, sent_options = ai.calls[0]
    assert model == MODEL
    assert js_types(sent_inputs) == {"Object", "Array"}  # no Map anywhere
    assert js_types(sent_options) == {"Object"}
    assert sent_inputs.to_py() == {
        "messages": [{"role": "user", "content": "Hallo"}],
        "max_tokens": 8,
        "response_format": {"type": "json_object"},
    }  # None is left out, not sent as null
    assert sent_options.to_py() == {
        "rejectIfBusy": True,
        "gateway": {"id": "tutor", "skipCache": True},
    }


def test_reject_if_busy_is_always_the_third_argument(workers):
    # facts-14 §3 [RIB]: in the options, never in the inputs, so a busy model fails fast (3040)
    ai = FakeAI({"response": "ok"})
    run(workers, ai, {"prompt": "Hi"})
    _, inputs, options = ai.calls[0]
    assert options.to_py() == {"rejectIfBusy": True}
    assert "rejectIfBusy" not in inputs.to_py()


TOOLS = [
    {"type": "function", "function": {"name": "define", "parameters": {}}},
    {"type": "function", "function": {"name": "translate", "parameters": {}}},
]


@pytest.mark.parametrize(
    ("tool_choice", "sent_tools"),
    [
        ("auto", ["define", "translate"]),
        ("none", None),
        ({"type": "function", "function": {"name": "translate"}}, ["translate"]),
    ],
)
def test_tool_choice_is_applied_because_workers_ai_has_none(workers, tool_choice, sent_tools):
    ai = FakeAI({"response": "ok"})
    run(workers, ai, {"messages": [], "tools": TOOLS, "tool_choice": tool_choice})
    sent = ai.inputs()
    assert "tool_choice" not in sent
    names = [tool["function"]["name"] for tool in sent["tools"]] if "tools" in sent else None
    assert names == sent_tools


# --- results --------------------------------------------------------------------------


def test_a_js_result_comes_back_as_plain_python(workers):
    ai = FakeAI(
        {
            "response": "Bonjour",
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            "tool_calls": "<null>",
        }
    )
    result = run(workers, ai, {"prompt": "Hi"})
    assert result == {
        "response": "Bonjour",
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    assert type(result) is dict and type(result["usage"]) is dict


def test_json_mode_object_becomes_a_json_string(workers):
    ai = FakeAI({"response": {"word": "café", "level": 2}})
    result = run(workers, ai, {"prompt": "Hi", "response_format": {"type": "json_object"}})
    assert result["response"] == '{"word": "café", "level": 2}'


def test_tool_call_arguments_pass_through_as_sent(workers):
    ai = FakeAI(
        {
            "response": "<null>",
            "tool_calls": [
                {"name": "define", "arguments": {"word": "Haus"}},
                {"name": "translate", "arguments": '{"text": "Hund"}'},
                {"name": "broken", "arguments": "not json"},
            ],
        }
    )
    result = run(workers, ai, {"messages": []})
    assert result == {
        "response": "",
        "tool_calls": [
            {"name": "define", "arguments": {"word": "Haus"}},
            {"name": "translate", "arguments": '{"text": "Hund"}'},  # judged by the service
            {"name": "broken", "arguments": "not json"},
        ],
    }


def test_a_chat_completion_answer_is_put_in_the_binding_shape(workers):
    ai = FakeAI(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "<null>",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "define", "arguments": '{"word": "Baum"}'},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        }
    )
    assert run(workers, ai, {"messages": []}) == {
        "response": "",
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        "tool_calls": [{"name": "define", "arguments": '{"word": "Baum"}', "id": "call_1"}],
        "finish_reason": "tool_calls",
    }


def test_through_the_sdk_env_wrapper_inputs_are_js_objects_and_results_plain(workers, sdk):
    ai = FakeAI({"response": "Hallo", "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    env = sdk._EnvWrapper(worker_env(ai))
    wrapped_ai = env.AI
    assert type(wrapped_ai).__name__ == "_BindingWrapper"  # SDK >= 1.5 wraps the binding

    result = run(workers, wrapped_ai, {"prompt": "Hi", "max_tokens": 4})

    assert isinstance(ai.calls[0][1], JsObject)
    assert ai.inputs() == {"prompt": "Hi", "max_tokens": 4}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    assert result == {"response": "Hallo", "usage": usage}
    assert type(result) is dict


# --- streams --------------------------------------------------------------------------

# "café" with the é (c3 a9) split across two chunks: the bytes must pass through as sent.
SPLIT_CHUNKS = [
    b'data: {"response": "caf\xc3',
    b'\xa9"}\n\n',
    b'data: {"response": "", "usage": {"prompt_tokens": 2, "completion_tokens": 1}}\n\n',
    b"data: [DONE]\n\n",
]


def test_a_stream_yields_the_upstream_chunks_untouched(workers):
    ai = FakeAI(SPLIT_CHUNKS)

    async def collect() -> list[bytes]:
        stream = await workers.WorkersAIBinding(ai).run(MODEL, {"prompt": "Hi", "stream": True})
        return [chunk async for chunk in stream]

    assert asyncio.run(collect()) == SPLIT_CHUNKS
    assert ai.inputs()["stream"] is True
    upstream = ai.streams[0]
    assert upstream.lock_released and not upstream.cancelled


def test_stopping_early_cancels_the_upstream_stream(workers):
    ai = FakeAI(SPLIT_CHUNKS)

    async def first_then_stop() -> bytes:
        stream = await workers.WorkersAIBinding(ai).run(MODEL, {"prompt": "Hi", "stream": True})
        first = await anext(stream)
        await stream.aclose()
        return first

    assert asyncio.run(first_then_stop()) == SPLIT_CHUNKS[0]
    upstream = ai.streams[0]
    assert upstream.cancelled and upstream.lock_released
    assert upstream.chunks_read == 1


def test_an_error_thrown_mid_stream_becomes_a_typed_error(workers):
    failure = JsException("InferenceUpstreamError", "3007: Request timeout")
    ai = FakeAI(ReadableStream([SPLIT_CHUNKS[0], failure]))

    async def drain() -> list[bytes]:
        stream = await workers.WorkersAIBinding(ai).run(MODEL, {"prompt": "Hi", "stream": True})
        return [chunk async for chunk in stream]

    with pytest.raises(BackendTimeout, match="Request timeout"):
        asyncio.run(drain())
    assert ai.streams[0].lock_released and not ai.streams[0].cancelled


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "error_class", "status"),
    [
        ("3040: Capacity temporarily exceeded, please try again.", BackendBusy, 503),
        ("3036: You have used up your daily free allocation", BackendQuotaExceeded, 429),
        ("5007: No such model @cf/meta/llama-9", ModelNotFound, 404),
        ("3006: Request is too large", PayloadTooLarge, 413),
        ("3007: Request timeout", BackendTimeout, 504),
        ("3043: Internal server error", BackendError, 502),
        ("fetch failed", BackendError, 502),
    ],
)
def test_thrown_binding_errors_become_typed_errors(workers, message, error_class, status):
    ai = FakeAI(JsException("InferenceUpstreamError", message))
    with pytest.raises(error_class) as caught:
        run(workers, ai, {"prompt": "Hi"})
    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert caught.value.message.startswith("Workers AI")  # "fetch failed": no code, not shown


def test_capacity_errors_say_when_to_retry(workers):
    ai = FakeAI(JsException("InferenceUpstreamError", "3040: Capacity temporarily exceeded"))
    with pytest.raises(BackendBusy) as caught:
        run(workers, ai, {"prompt": "Hi"})
    assert caught.value.message == "Workers AI: Capacity temporarily exceeded"
    assert caught.value.retry_after is not None and caught.value.retryable


# --- the platform from env ------------------------------------------------------------


class RecordingEnv(JsObject):
    """An env that remembers which names were read from it."""

    def __getattr__(self, name: str) -> Any:
        self.__dict__.setdefault("_read", []).append(name)
        return super().__getattr__(name)


def test_the_platform_is_built_from_the_env_vars_settings_knows(workers):
    ai = FakeAI()
    env = RecordingEnv(
        {
            "AI": ai,
            "LLM_API_DEFAULT_MODEL": "llama-3.1-8b-instruct",
            "LLM_API_MAX_BODY_BYTES": 2048,  # a number in [vars] arrives as a number
            "LLM_API_ADMIN_TOKEN": "secret",  # a secret Settings does not know
        }
    )
    platform = workers.WorkersProvider()({"env": env})
    assert platform.settings == Settings(default_model="llama-3.1-8b-instruct", max_body_bytes=2048)
    assert platform.ai.engine == "workers-ai"
    read = set(env.__dict__["_read"]) - {"AI", "API_KEYS", "RATE_LIMITER", "_env"}
    assert {"LLM_API_DEFAULT_MODEL", "LLM_API_MAX_BODY_BYTES"} <= read
    assert "LLM_API_ADMIN_TOKEN" not in read
    assert read <= settings_names(), read - settings_names()


def settings_names() -> set[str]:
    """Every name ``Settings.from_mapping`` asks for."""
    asked: set[str] = set()

    class Asking(dict):
        def get(self, name: str, default: Any = None) -> Any:
            asked.add(name)
            return default

        def __getitem__(self, name: str) -> Any:
            asked.add(name)
            raise KeyError(name)

    Settings.from_mapping(Asking())
    return asked


def test_missing_vars_take_the_settings_defaults(workers):
    platform = workers.WorkersProvider()({"env": worker_env(FakeAI())})
    assert platform.settings == Settings()


def test_the_platform_is_cached_per_env_not_per_request(workers, sdk):
    env = worker_env(FakeAI(), LLM_API_DEFAULT_MODEL="llama-3-8b-instruct")
    # workerd gives every request a fresh SDK wrapper around the same JS env
    provider = workers.WorkersProvider()
    first = provider({"env": sdk._EnvWrapper(env)})
    second = provider({"env": sdk._EnvWrapper(env)})
    assert first is second
    other = provider({"env": worker_env(FakeAI())})
    assert other is not first and other.settings.default_model == Settings().default_model


def test_a_bad_var_is_a_config_error(workers):
    env = worker_env(FakeAI(), LLM_API_DEFAULT_MODEL="gpt-9")
    with pytest.raises(ConfigError, match="LLM_API_DEFAULT_MODEL"):
        workers.WorkersProvider()({"env": env})


def test_a_worker_without_an_ai_binding_is_a_config_error(workers):
    with pytest.raises(ConfigError, match=r"\[ai\]"):
        workers.WorkersProvider()({"env": worker_env()})


def test_the_platform_keeps_stored_responses_in_the_keys_durable_object(workers):
    from tests.support.workers_fake.bindings import FakeDurableObjectNamespace

    class KeyObject:  # stands in for entry.RateLimiter: records what reaches it
        def __init__(self, ctx: Any, env: Any) -> None:
            self.saved: dict[str, str] = {}

        def save_response(self, response_id: str, record: str, created_at: int) -> None:
            self.saved[response_id] = record

    namespace = FakeDurableObjectNamespace(KeyObject)
    platform = workers.WorkersProvider()({"env": worker_env(FakeAI(), RATE_LIMITER=namespace)})
    state = importlib.import_module("llm_api.platform.workers.state")
    assert isinstance(platform.responses, state.DurableObjectResponseStore)  # not in memory
    asyncio.run(platform.responses.save("key000000001", "resp_1", "{}", created_at=1))
    assert namespace.instances["key000000001"].saved == {"resp_1": "{}"}


def test_without_rate_limiter_the_platform_refuses_to_store_responses(workers):
    platform = workers.WorkersProvider()({"env": worker_env(FakeAI())})
    with pytest.raises(BackendError, match="RATE_LIMITER"):
        asyncio.run(platform.responses.load("key000000001", "resp_1"))
