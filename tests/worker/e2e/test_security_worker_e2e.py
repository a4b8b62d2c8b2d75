"""Keys, rate limits and CORS (tests/e2e/test_security_e2e.py) on the Worker under Pyodide:
the keys in KV, the limit in the key's SQLite-backed Durable Object. The Worker here has the
scripted AI (fixed answers, no model), as tests/e2e runs these against a fast fake upstream.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_security_e2e import (
    test_cors_preflight_and_a_cross_origin_stream,
    test_no_key_raises_authentication_error,
    test_rate_limit_error_and_the_sdk_waits_retry_after,
)
from tests.support.worker_harness import Worker, running_worker

__all__ = [
    "test_cors_preflight_and_a_cross_origin_stream",
    "test_no_key_raises_authentication_error",
    "test_rate_limit_error_and_the_sdk_waits_retry_after",
]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Worker]:
    with running_worker(ai="scripted") as worker:
        yield worker
