from __future__ import annotations

import asyncio
import hashlib
import json
import re

import pytest

from llm_api import keys
from llm_api.keys import (
    KeyRecord,
    MemoryKeyStore,
    generate_key,
    hash_key,
    is_key_id,
    mask,
    new_key,
    parse_key,
    verify,
)


def test_generated_keys_have_the_documented_shape() -> None:
    key_id, full_key = generate_key()
    assert re.fullmatch(r"[a-z0-9]{12}", key_id)
    assert re.fullmatch(rf"llmk_{key_id}_[A-Za-z0-9_-]{{43}}", full_key)
    assert parse_key(full_key) == key_id
    assert is_key_id(key_id)


def test_generated_keys_are_unique() -> None:
    generated = [generate_key() for _ in range(200)]
    assert len({key_id for key_id, _ in generated}) == 200
    assert len({full for _, full in generated}) == 200


def test_hash_is_sha256_hex_of_the_whole_key() -> None:
    _, full_key = generate_key()
    assert hash_key(full_key) == hashlib.sha256(full_key.encode()).hexdigest()


def test_secret_may_contain_underscores_and_dashes() -> None:
    key = "llmk_abcdefghij12_" + "_-" * 20 + "abc"
    assert parse_key(key) == "abcdefghij12"


@pytest.mark.parametrize(
    "junk",
    [
        None,
        42,
        b"llmk_abcdefghij12_" + b"x" * 43,
        "",
        "llmk_",
        "Bearer llmk_abcdefghij12_" + "x" * 43,
        "llmk_abcdefghij12_" + "x" * 31,  # secret too short
        "llmk_abcdefghij12_" + "x" * 129,  # absurdly long
        "llmk_ABCDEFGHIJ12_" + "x" * 43,  # ids are lowercase
        "llmk_abcdefghij1_" + "x" * 44,  # id too short
        "llmk_abcdefghij12_" + "x" * 42 + "!",
        "llmk_abcdefghij12_" + "x" * 42 + "\n",
        "llmk_abcdefghij12_" + "é" * 43,
        "llmk_abcdefghij12_" + "\ud800" * 43,
        "sk-" + "x" * 48,
        " llmk_abcdefghij12_" + "x" * 43,
    ],
)
def test_parse_key_returns_none_for_junk(junk: object) -> None:
    assert parse_key(junk) is None
    assert "x" * 20 not in mask(junk)


def test_hash_key_never_raises() -> None:
    assert len(hash_key("\ud800 lone surrogate")) == 64


def test_new_key_record_holds_only_the_hash() -> None:
    full_key, record = new_key("my app", rpm=10, allowed_models=["llama-3.2-3b-instruct"])
    secret = full_key[len("llmk_") + 12 + 1 :]
    assert parse_key(full_key) == record.key_id
    assert record.key_hash == hash_key(full_key)
    serialized = json.dumps(record.to_dict()) + repr(record) + json.dumps(record.public_dict())
    assert full_key not in serialized
    assert secret not in serialized
    assert record.key_hash not in repr(record)
    assert "key_hash" not in record.public_dict()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record.created_at)


def test_record_round_trips_through_json() -> None:
    _, record = new_key("n", rpm=5, allowed_models=["a", "b"], created_at="2025-01-02T03:04:05Z")
    record.revoked = True
    assert KeyRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    _, plain = new_key("plain")
    assert KeyRecord.from_dict(json.loads(json.dumps(plain.to_dict()))) == plain


def test_from_dict_defaults_and_ignores_unknown_fields() -> None:
    record = KeyRecord.from_dict(
        {
            "key_id": "abcdefghij12",
            "name": "old",
            "key_hash": "0" * 64,
            "created_at": "2025-01-01T00:00:00Z",
            "added_later": 1,
        }
    )
    assert (record.rpm, record.allowed_models, record.revoked) == (None, None, False)


def test_verify_accepts_the_right_key_only() -> None:
    full_key, record = new_key("n")
    other_key, _ = new_key("other")
    assert verify(full_key, record)
    assert not verify(other_key, record)
    assert not verify(full_key[:-1] + ("A" if full_key[-1] != "A" else "B"), record)
    assert not verify("", record)


def test_verify_rejects_revoked_keys() -> None:
    full_key, record = new_key("n")
    record.revoked = True
    assert not verify(full_key, record)


def test_verify_without_a_record_still_hashes_and_compares(monkeypatch) -> None:
    calls: list[tuple[str, str]] = []
    real = keys.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    full_key, record = new_key("n")
    assert not verify(full_key, None)
    assert verify(full_key, record)
    record.revoked = True
    assert not verify(full_key, record)
    # One constant-time comparison of two 64-char digests on every path.
    assert len(calls) == 3
    assert all(len(a) == len(b) == 64 for a, b in calls)


def test_mask_shows_the_key_id_and_never_the_secret() -> None:
    full_key, record = new_key("n")
    shown = mask(full_key)
    assert shown == f"llmk_{record.key_id}_…"
    assert full_key[18:] not in shown


def test_allows_model() -> None:
    _, anything = new_key("n")
    _, limited = new_key("n", allowed_models=["llama-3.2-3b-instruct"])
    assert anything.allows_model("whatever")
    assert limited.allows_model("llama-3.2-3b-instruct")
    assert not limited.allows_model("llama-3.1-8b-instruct")


def test_memory_store_get_put_list_revoke() -> None:
    store = MemoryKeyStore()
    _, first = new_key("first", created_at="2025-01-01T00:00:00Z")
    _, second = new_key("second", created_at="2025-01-02T00:00:00Z")

    async def scenario() -> None:
        await store.put(second)
        await store.put(first)
        assert await store.get(first.key_id) == first
        assert await store.get("nosuchkey000") is None
        assert [r.name for r in await store.list()] == ["first", "second"]
        assert await store.revoke(first.key_id)
        assert await store.revoke(first.key_id)  # idempotent
        assert not await store.revoke("nosuchkey000")
        assert (await store.get(first.key_id)).revoked
        # The store hands out copies: editing one changes nothing stored.
        copy = await store.get(second.key_id)
        copy.revoked = True
        assert not (await store.get(second.key_id)).revoked

    asyncio.run(scenario())
