"""tests/e2e/clients/test_python_responses_e2e.py against the Worker under Pyodide: the
Responses API with its stored responses in the key's Durable Object (SQLite on node:sqlite),
``previous_response_id`` and retrieve/delete through the real runtime's RPC conversion."""

from tests.e2e.clients.test_python_responses_e2e import *  # noqa: F403
