"""tests/e2e/test_tutor_e2e.py against the Worker under Pyodide (conftest.py here)."""

from tests.e2e.test_tutor_e2e import *  # noqa: F403
