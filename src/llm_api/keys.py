"""API keys: format, hashing, verification, and the store protocol both hosts implement.

A key reads ``llmk_<key_id>_<secret>``: the 12-character key id is public (it names the
key in logs, URLs and the admin API, and finds its record); the secret is 32 random
bytes, url-safe base64. Only the SHA-256 of the whole key is stored. A plain hash, not a
slow KDF, is the right tool here: the secret carries 256 bits of entropy, so there is
nothing to brute-force, and verification stays cheap on every request (GitHub and
Stripe tokens are handled the same way).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

PREFIX = "llmk_"
KEY_ID_LENGTH = 12
SECRET_BYTES = 32
# Lowercase and digits only: readable, case-safe in URLs, and never contains the `_`
# separator, so the id is always exactly the 12 characters after the prefix.
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(r"llmk_([a-z0-9]{12})_([A-Za-z0-9_-]{32,128})")
_KEY_ID_RE = re.compile(r"[a-z0-9]{12}")
# Compared against when there is no record, so a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"llmk_no-such-key").hexdigest()


def generate_key() -> tuple[str, str]:
    """A new ``(key_id, full_key)``. The full key is shown once and never stored."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def hash_key(full_key: str) -> str:
    """SHA-256 hex digest of the whole key. Never raises, whatever the string holds."""
    return hashlib.sha256(full_key.encode("utf-8", "surrogatepass")).hexdigest()


def parse_key(presented: object) -> str | None:
    """The key id of a well-formed key, or None for anything else (never raises)."""
    if not isinstance(presented, str):
        return None
    match = _KEY_RE.fullmatch(presented)
    return match.group(1) if match else None


def is_key_id(value: object) -> bool:
    """Whether ``value`` looks like a key id (for validating admin-API paths)."""
    return isinstance(value, str) and _KEY_ID_RE.fullmatch(value) is not None


def mask(presented: object) -> str:
    """A loggable stand-in for a presented key: its id only, never the secret."""
    key_id = parse_key(presented)
    return f"{PREFIX}{key_id}_…" if key_id else f"{PREFIX}…(malformed)"


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class KeyRecord:
    """What is stored for a key. ``rpm``/``allowed_models`` None mean the global default."""

    key_id: str
    name: str
    key_hash: str = field(repr=False)
    created_at: str  # ISO-8601 UTC, e.g. "2025-01-31T12:00:00Z"
    rpm: int | None = None
    allowed_models: list[str] | None = None
    revoked: bool = False

    def allows_model(self, model_id: str) -> bool:
        """Whether this key may use ``model_id`` (compare canonical ids: resolve aliases first)."""
        return self.allowed_models is None or model_id in self.allowed_models

    def public_dict(self) -> dict[str, Any]:
        """The record as the admin API shows it: everything but the hash."""
        data = self.to_dict()
        del data["key_hash"]
        return data

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for KV values and the SQLite store."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "key_hash": self.key_hash,
            "created_at": self.created_at,
            "rpm": self.rpm,
            "allowed_models": None if self.allowed_models is None else list(self.allowed_models),
            "revoked": self.revoked,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRecord:
        """Inverse of :meth:`to_dict`; unknown fields are ignored (newer writers)."""
        rpm = data.get("rpm")
        models = data.get("allowed_models")
        return cls(
            key_id=str(data["key_id"]),
            name=str(data["name"]),
            key_hash=str(data["key_hash"]),
            created_at=str(data["created_at"]),
            rpm=None if rpm is None else int(rpm),
            allowed_models=None if models is None else [str(m) for m in models],
            revoked=bool(data.get("revoked", False)),
        )


def new_key(
    name: str,
    *,
    rpm: int | None = None,
    allowed_models: list[str] | None = None,
    created_at: str | None = None,
) -> tuple[str, KeyRecord]:
    """A fresh ``(full_key, record)``: store the record, show the key once."""
    key_id, full_key = generate_key()
    record = KeyRecord(
        key_id=key_id,
        name=name,
        key_hash=hash_key(full_key),
        created_at=created_at or utc_now_iso(),
        rpm=rpm,
        allowed_models=allowed_models,
    )
    return full_key, record


def verify(presented: str, record: KeyRecord | None) -> bool:
    """Whether ``presented`` is the live key that ``record`` describes.

    Always hashes and compares once, with ``hmac.compare_digest``, whether the record
    exists, is revoked or matches, so timing says nothing about which.
    """
    expected = _DUMMY_HASH if record is None else record.key_hash
    matches = hmac.compare_digest(hash_key(presented), expected)
    return matches and record is not None and not record.revoked


class KeyStore(Protocol):
    """Where key records live: KV on Workers, SQLite locally."""

    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def put(self, record: KeyRecord) -> None: ...

    async def list(self) -> list[KeyRecord]: ...

    async def revoke(self, key_id: str) -> bool:
        """Mark a key revoked; False when no such key exists (revoking twice is True)."""
        ...


class MemoryKeyStore:
    """A :class:`KeyStore` in a dict, for tests and throwaway hosts."""

    def __init__(self, records: list[KeyRecord] | None = None) -> None:
        self._records = {r.key_id: KeyRecord.from_dict(r.to_dict()) for r in records or ()}

    async def get(self, key_id: str) -> KeyRecord | None:
        record = self._records.get(key_id)
        return None if record is None else KeyRecord.from_dict(record.to_dict())

    async def put(self, record: KeyRecord) -> None:
        self._records[record.key_id] = KeyRecord.from_dict(record.to_dict())

    async def list(self) -> list[KeyRecord]:
        records = sorted(self._records.values(), key=lambda r: (r.created_at, r.key_id))
        return [KeyRecord.from_dict(r.to_dict()) for r in records]

    async def revoke(self, key_id: str) -> bool:
        record = self._records.get(key_id)
        if record is None:
            return False
        record.revoked = True
        return True
