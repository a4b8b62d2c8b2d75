"""llm_api.platform.workers.state: API keys in KV; limits, usage and stored responses in
the key's object (the stores' shared contract: tests/unit/test_response_stores.py).

Under the fake runtime (tests/workers_fake), with the real workers SDK's env wrapper
where workerd would use it, and the real ``entry.RateLimiter`` as the Durable Object.
Each binding is also used raw (no wrapper), as an SDK before 1.5 hands it over.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest

from llm_api.errors import BackendError
from llm_api.keys import KeyRecord, hash_key, new_key
from llm_api.ratelimit import Decision
from llm_api.usage import UsageEntry
from tests.support.workers_fake import Runtime, installed
from tests.support.workers_fake.bindings import (
    FakeAI,
    FakeDurableObjectNamespace,
    FakeKV,
    OldDurableObjectNamespace,
    worker_env,
)
from tests.support.workers_fake.ffi import JsException, JsObject


@pytest.fixture
def runtime() -> Runtime:
    with installed() as runtime:
        yield runtime


@pytest.fixture
def entry(runtime: Runtime) -> ModuleType:
    return runtime.load_entry()


@pytest.fixture
def state(entry: ModuleType) -> ModuleType:
    return importlib.import_module("llm_api.platform.workers.state")


@pytest.fixture(params=["sdk-wrapped", "raw"])
def bind(request: pytest.FixtureRequest, runtime: Runtime):
    """``bind(name, binding)``: the binding as the Worker sees it on ``env``."""

    def bound(name: str, binding: Any) -> Any:
        env = worker_env(**{name: binding})
        if request.param == "raw":
            return getattr(env, name)
        from workers import _EnvWrapper

        return getattr(_EnvWrapper(env), name)

    return bound


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def stored_key(**fields: Any) -> tuple[str, KeyRecord]:
    return new_key("tests", created_at="2025-03-01T12:00:00Z", **fields)


# --- API keys in KV --------------------------------------------------------------------


def test_a_key_record_round_trips_through_kv_as_json_text(state, bind):
    kv = FakeKV()
    store = state.KVKeyStore(bind("API_KEYS", kv))
    key, record = stored_key(rpm=10, allowed_models=["@cf/meta/llama-3.1-8b-instruct"])

    run(store.put(record))

    stored = kv.entries[f"key:{record.key_id}"]
    assert json.loads(stored) == record.to_dict()
    assert key not in stored and hash_key(key) in stored  # the hash, never the key
    assert run(store.get(record.key_id)) == record
    assert run(store.get("nosuchkey000")) is None


def test_list_reads_every_page_of_key_records_only(state, bind):
    kv = FakeKV({"config:other": "{}"}, page_size=2)
    store = state.KVKeyStore(bind("API_KEYS", kv))
    records = [new_key(f"k{i}", created_at=f"2025-03-0{i}T00:00:00Z")[1] for i in (3, 1, 5, 2, 4)]
    for record in records:
        run(store.put(record))

    listed = run(store.list())

    assert [r.name for r in listed] == ["k1", "k2", "k3", "k4", "k5"]  # oldest first
    lists = [args[0] for op, args in kv.calls if op == "list"]
    assert len(lists) == 3  # 5 keys, 2 a page
    assert all(isinstance(options, JsObject) for options in lists)  # a JS object, no Map
    assert [options.to_py().get("cursor") for options in lists] == [None, "cursor-2", "cursor-4"]
    assert {options.to_py()["prefix"] for options in lists} == {"key:"}


def test_revoke_marks_the_stored_record(state, bind):
    kv = FakeKV()
    store = state.KVKeyStore(bind("API_KEYS", kv))
    _, record = stored_key()
    run(store.put(record))

    assert run(store.revoke(record.key_id)) is True
    assert json.loads(kv.entries[f"key:{record.key_id}"])["revoked"] is True
    assert run(store.get(record.key_id)).revoked
    puts = sum(1 for op, _ in kv.calls if op == "put")
    assert run(store.revoke(record.key_id)) is True  # revoking twice is fine ...
    assert sum(1 for op, _ in kv.calls if op == "put") == puts  # ... and writes nothing
    assert run(store.revoke("nosuchkey000")) is False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def kv_gets(kv: FakeKV) -> int:
    return sum(1 for op, _ in kv.calls if op == "get")


def test_a_found_key_is_read_from_kv_once_per_ttl(state, bind):
    kv, clock = FakeKV(), Clock()
    store = state.KVKeyStore(bind("API_KEYS", kv), ttl_s=5.0, clock=clock)
    _, record = stored_key()
    run(state.KVKeyStore(bind("API_KEYS", kv)).put(record))  # written by another isolate

    assert run(store.get(record.key_id)) == record
    clock.now += 4.9
    assert run(store.get(record.key_id)) == record
    assert kv_gets(kv) == 1  # the second lookup cost no KV read
    clock.now += 0.2
    run(store.get(record.key_id))
    assert kv_gets(kv) == 2  # past the TTL it reads KV again


def test_a_key_revoked_elsewhere_is_refused_once_the_ttl_passes(state, bind):
    kv, clock = FakeKV(), Clock()
    store = state.KVKeyStore(bind("API_KEYS", kv), ttl_s=5.0, clock=clock)
    other = state.KVKeyStore(bind("API_KEYS", kv))  # another isolate's store
    _, record = stored_key()
    run(other.put(record))
    assert not run(store.get(record.key_id)).revoked

    assert run(other.revoke(record.key_id)) is True
    assert not run(store.get(record.key_id)).revoked  # this isolate's copy, for the TTL
    clock.now += state.KEY_CACHE_TTL_S
    assert run(store.get(record.key_id)).revoked


def test_a_revoke_is_seen_at_once_by_the_isolate_that_made_it(state, bind):
    kv = FakeKV()
    store = state.KVKeyStore(bind("API_KEYS", kv), clock=Clock())
    _, record = stored_key()
    run(store.put(record))
    held = run(store.get(record.key_id))

    assert run(store.revoke(record.key_id)) is True
    assert run(store.get(record.key_id)).revoked
    assert not held.revoked  # a record already handed out is never changed under its holder
    assert run(store.list())[0].revoked


def test_a_missing_key_is_not_kept_so_a_new_key_works_at_once(state, bind):
    kv = FakeKV()
    store = state.KVKeyStore(bind("API_KEYS", kv), clock=Clock())
    other = state.KVKeyStore(bind("API_KEYS", kv))
    _, record = stored_key()
    assert run(store.get(record.key_id)) is None

    run(other.put(record))
    assert run(store.get(record.key_id)) == record


def test_the_key_cache_is_bounded_oldest_first(state, bind):
    kv = FakeKV()
    store = state.KVKeyStore(bind("API_KEYS", kv), max_entries=3, clock=Clock())
    records = [stored_key()[1] for _ in range(4)]
    for record in records:
        run(store.put(record))
        run(store.get(record.key_id))
    reads = kv_gets(kv)

    run(store.get(records[3].key_id))  # kept
    assert kv_gets(kv) == reads
    run(store.get(records[0].key_id))  # dropped for the fourth
    assert kv_gets(kv) == reads + 1
    assert len(store._found) == 3


def test_a_failed_write_leaves_no_stale_copy(state, bind):
    kv = FakeKV()
    store = state.KVKeyStore(bind("API_KEYS", kv), clock=Clock())
    _, record = stored_key()
    run(store.put(record))
    run(store.get(record.key_id))
    kv.fail_with = JsException("Error", "KV PUT failed: 500 Internal Server Error")
    with pytest.raises(BackendError):
        run(store.put(replace(record, revoked=True)))
    with pytest.raises(BackendError):  # read again, not served from the copy
        run(store.get(record.key_id))


def test_a_kv_failure_is_a_retryable_503(state, bind):
    kv = FakeKV()
    kv.fail_with = JsException("Error", "KV GET failed: 500 Internal Server Error")
    store = state.KVKeyStore(bind("API_KEYS", kv))
    with pytest.raises(BackendError) as caught:
        run(store.get("abcdefghijkl"))
    assert caught.value.status == 503 and caught.value.retryable
    assert "KV GET failed" not in caught.value.message  # the detail is logged, not shown


def test_without_api_keys_no_key_is_valid_and_writes_say_what_is_missing(state):
    keys, _, _ = state.bound_state(worker_env(FakeAI()))
    _, record = stored_key()
    assert run(keys.get(record.key_id)) is None
    for attempt in (keys.put(record), keys.list(), keys.revoke(record.key_id)):
        with pytest.raises(BackendError, match=r"API_KEYS KV namespace is not bound") as caught:
            run(attempt)
        assert caught.value.status == 503 and not caught.value.retryable


# --- rate limits and usage in the key's Durable Object ---------------------------------


def limiter_for(state: ModuleType, entry: ModuleType, bind: Any, namespace_class: Any = None):
    namespace = (namespace_class or FakeDurableObjectNamespace)(entry.RateLimiter)
    return namespace, state.DurableObjectLimiter(bind("RATE_LIMITER", namespace))


def test_150_concurrent_hits_on_one_key_admit_exactly_100(state, entry, bind):
    namespace, limiter = limiter_for(state, entry, bind)

    async def burst() -> list[Decision]:
        return await asyncio.gather(*(limiter.hit("key000000001", 100) for _ in range(150)))

    decisions = run(burst())

    assert all(isinstance(d, Decision) for d in decisions)
    assert sum(d.admitted for d in decisions) == 100
    admitted = [d for d in decisions if d.admitted]
    assert sorted(d.remaining for d in admitted) == list(range(100))  # each slot once
    refused = [d for d in decisions if not d.admitted]
    assert all(d.remaining == 0 and 0 < d.retry_after_s <= 60 for d in refused)
    assert list(namespace.instances) == ["key000000001"]  # one object for the key
    assert namespace.storages["key000000001"].sql.fake.admissions().__len__() == 100


def test_two_keys_have_separate_windows(state, entry, bind):
    namespace, limiter = limiter_for(state, entry, bind)
    for _ in range(3):
        run(limiter.hit("key000000001", 3))
    assert not run(limiter.hit("key000000001", 3)).admitted
    other = run(limiter.hit("key000000002", 3))
    assert other.admitted and other.remaining == 2
    assert sorted(namespace.instances) == ["key000000001", "key000000002"]


def test_the_window_survives_the_object_being_evicted(state, entry, bind):
    namespace, limiter = limiter_for(state, entry, bind)
    for _ in range(2):
        run(limiter.hit("key000000001", 2))
    namespace.evict("key000000001")
    assert not run(limiter.hit("key000000001", 2)).admitted  # read back from its SQLite


def test_a_runtime_without_get_by_name_uses_id_from_name(state, entry, bind):
    namespace, limiter = limiter_for(state, entry, bind, OldDurableObjectNamespace)
    assert run(limiter.hit("key000000001", 5)).remaining == 4
    assert list(namespace.instances) == ["key000000001"]


def test_usage_is_recorded_in_the_keys_object_and_read_back(state, entry, bind):
    namespace = FakeDurableObjectNamespace(entry.RateLimiter)
    usage = state.DurableObjectUsageStore(bind("RATE_LIMITER", namespace))

    async def record(key_id: str, day: str, prompt: int, completion: int, cost: float) -> None:
        await usage.record(
            key_id, day=day, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost
        )

    run(record("key000000001", "2025-03-01", 10, 5, 0.25))
    run(record("key000000001", "2025-03-01", 1, 2, 0.5))
    run(record("key000000001", "2025-03-02", 7, 0, 0.0))
    run(record("key000000002", "2025-03-02", 100, 100, 1.0))

    entries = run(usage.usage("key000000001", days=30, today="2025-03-02"))
    assert entries == [
        UsageEntry("2025-03-02", requests=1, prompt_tokens=7, completion_tokens=0, cost_usd=0.0),
        UsageEntry("2025-03-01", requests=2, prompt_tokens=11, completion_tokens=7, cost_usd=0.75),
    ]
    assert run(usage.usage("key000000001", days=1, today="2025-03-02")) == entries[:1]
    assert run(usage.usage("nokeyatall00")) == []
    assert ("key000000001", "usage", (30, "2025-03-02")) in namespace.calls
    assert ("nokeyatall00", "usage", (30,)) in namespace.calls  # no today: the object's now


def test_a_durable_object_failure_is_a_retryable_503(state, entry, bind):
    namespace, limiter = limiter_for(state, entry, bind)
    namespace.fail_with = JsException("Error", "Durable Object is overloaded")
    with pytest.raises(BackendError) as caught:
        run(limiter.hit("key000000001", 100))
    assert caught.value.status == 503 and caught.value.retryable
    assert caught.value.retry_after == 1.0


def test_without_rate_limiter_every_hit_is_refused_with_a_503(state):
    _, limiter, usage = state.bound_state(worker_env(FakeAI(), API_KEYS=FakeKV()))
    for attempt in (limiter.hit("key000000001", 100), usage.usage("key000000001")):
        with pytest.raises(BackendError, match="RATE_LIMITER Durable Object is not bound"):
            run(attempt)


def test_bound_state_uses_the_bindings_it_finds(state, entry):
    from workers import _EnvWrapper

    env = _EnvWrapper(
        worker_env(
            FakeAI(),
            API_KEYS=FakeKV(),
            RATE_LIMITER=FakeDurableObjectNamespace(entry.RateLimiter),
        )
    )
    keys, limiter, usage = state.bound_state(env)
    assert isinstance(keys, state.KVKeyStore)
    assert isinstance(limiter, state.DurableObjectLimiter)
    assert isinstance(usage, state.DurableObjectUsageStore)
    assert isinstance(state.bound_responses(env), state.DurableObjectResponseStore)


# --- stored responses in the key's Durable Object --------------------------------------


def test_responses_cross_the_rpc_as_strings_and_an_int(state, entry, bind):
    namespace = FakeDurableObjectNamespace(entry.RateLimiter)
    store = state.DurableObjectResponseStore(bind("RATE_LIMITER", namespace))
    run(store.save("key000000001", "resp_1", '{"a": 1}', created_at=1_900_000_000))
    assert run(store.load("key000000001", "resp_1")) == '{"a": 1}'
    assert run(store.load("key000000001", "resp_2")) is None  # JS null back
    assert run(store.delete("key000000001", "resp_1")) is True
    assert namespace.calls == [
        ("key000000001", "save_response", ("resp_1", '{"a": 1}', 1_900_000_000)),
        ("key000000001", "load_response", ("resp_1",)),
        ("key000000001", "load_response", ("resp_2",)),
        ("key000000001", "delete_response", ("resp_1",)),
    ]
    assert list(namespace.instances) == ["key000000001"]  # the key's own object


def test_an_oversized_response_never_reaches_the_object(state, entry, bind):
    # In workerd an error thrown in the object arrives as a JS error (a retryable 503):
    # the caller's ValueError is the one the service expects, so it is raised before the RPC.
    namespace = FakeDurableObjectNamespace(entry.RateLimiter)
    store = state.DurableObjectResponseStore(bind("RATE_LIMITER", namespace))
    with pytest.raises(ValueError, match="at most"):
        run(store.save("key000000001", "resp_big", "x" * 1_000_001, created_at=1_900_000_000))
    assert namespace.calls == []


def test_a_response_store_failure_is_a_retryable_503(state, entry, bind):
    namespace = FakeDurableObjectNamespace(entry.RateLimiter)
    store = state.DurableObjectResponseStore(bind("RATE_LIMITER", namespace))
    namespace.fail_with = JsException("Error", "Durable Object storage operation exceeded timeout")
    for attempt in (
        store.save("key000000001", "resp_1", "{}", created_at=1_900_000_000),
        store.load("key000000001", "resp_1"),
        store.delete("key000000001", "resp_1"),
    ):
        with pytest.raises(BackendError, match="the response store is unavailable") as caught:
            run(attempt)
        assert caught.value.status == 503 and caught.value.retryable


def test_without_rate_limiter_stored_responses_are_refused_not_kept_in_memory(state):
    # An isolate's memory would lose them, and other isolates would never see them.
    store = state.bound_responses(worker_env(FakeAI(), API_KEYS=FakeKV()))
    for attempt in (
        store.save("key000000001", "resp_1", "{}", created_at=1_900_000_000),
        store.load("key000000001", "resp_1"),
        store.delete("key000000001", "resp_1"),
    ):
        with pytest.raises(BackendError, match="RATE_LIMITER Durable Object is not") as caught:
            run(attempt)
        assert caught.value.status == 503 and not caught.value.retryable
