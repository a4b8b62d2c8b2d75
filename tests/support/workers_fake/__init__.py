"""A small fake of workerd's Python surface, so the real workers SDK runs under CPython.

``installed()`` puts fake ``js``, ``pyodide`` (``ffi``, ``http``),
``_cloudflare_compat_flags`` and ``_pyodide_entrypoint_helper`` into ``sys.modules``;
with them the installed ``workers`` package (entrypoints, env wrapper, ASGI adapter)
imports and runs as it does in workerd. On exit every one of those modules, the SDK and
whatever imported it (``entry``, ``llm_api.platform.workers.provider`` and its ``workers_ffi`` and
``workers_state``) leave ``sys.modules``, so no other test sees a fake ``js``.

This proves wiring (the SDK's adapter, our conversions and the app together), not the
real FFI: Pyodide's own conversions are only imitated here.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from tests.support.workers_fake import ffi
from tests.support.workers_fake import js as fake_js

ENTRY = Path(__file__).resolve().parents[3] / "src" / "entry.py"

#: modules the fake provides, and modules that must not outlive it (with submodules)
_FAKED = ("js", "pyodide", "_cloudflare_compat_flags", "_pyodide_entrypoint_helper")
_WORKER_PLATFORM = ("provider", "ffi", "state")  # modules of llm_api.platform.workers
_DEPENDENT = (
    "workers",
    "asgi",
    "entry",
    *(f"llm_api.platform.workers.{m}" for m in _WORKER_PLATFORM),
)


class Runtime:
    """The installed fake: what the Worker handed to ``waitUntil``, and the entry module."""

    def __init__(self) -> None:
        self.waited: list[Any] = []
        self.modules = _modules(self)

    def load_entry(self) -> ModuleType:
        """Import ``src/entry.py`` as workerd does (module ``entry``)."""
        spec = importlib.util.spec_from_file_location("entry", ENTRY)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["entry"] = module
        spec.loader.exec_module(module)
        return module

    async def settle(self) -> None:
        """Wait for everything the Worker asked the runtime to wait for."""
        while self.waited:
            await self.waited.pop(0)


def _modules(runtime: Runtime) -> dict[str, ModuleType]:
    pyodide = ModuleType("pyodide")
    pyodide.__path__ = []  # a package, so `import pyodide.ffi` resolves
    pyodide.__version__ = "0.28.0"
    http = ModuleType("pyodide.http")
    http.FetchResponse = _FetchResponse
    http.pyfetch = _pyfetch
    pyodide.ffi = ffi
    pyodide.http = http

    flags = ModuleType("_cloudflare_compat_flags")
    flags.python_workflows_implicit_dependencies = True
    flags.python_request_headers_preserve_commas = True

    helper = ModuleType("_pyodide_entrypoint_helper")
    helper.cloudflareWorkersModule = SimpleNamespace(waitUntil=runtime.waited.append, env=None)
    helper.cloudflareSocketsModule = SimpleNamespace()
    helper.patchWaitUntil = lambda ctx: None
    helper.doAnImport = _no_imports
    helper.patch_env_helper = _no_imports

    return {
        "js": fake_js,
        "pyodide": pyodide,
        "pyodide.ffi": ffi,
        "pyodide.http": http,
        "_cloudflare_compat_flags": flags,
        "_pyodide_entrypoint_helper": helper,
    }


class _FetchResponse:
    """Enough of ``pyodide.http.FetchResponse`` for the SDK to subclass it."""

    def __init__(self, url: str, js_response: Any) -> None:
        self._url = url
        self.js_response = js_response

    @property
    def status(self) -> int:
        return self.js_response.status


async def _pyfetch(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("no network in the fake runtime")


def _no_imports(*args: Any) -> Any:
    raise NotImplementedError("the fake runtime imports no JS modules")


def _ours(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in _FAKED + _DEPENDENT)


@contextmanager
def installed() -> Iterator[Runtime]:
    saved = {name: module for name, module in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    runtime = Runtime()
    sys.modules.update(runtime.modules)
    try:
        yield runtime
    finally:
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        platform_package = sys.modules.get("llm_api.platform.workers")
        for name in _WORKER_PLATFORM:
            if platform_package is not None and f"llm_api.platform.workers.{name}" not in saved:
                platform_package.__dict__.pop(name, None)
