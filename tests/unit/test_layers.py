"""The package's layers, read from the source (``ast``, nothing imported): which package may
import which, where the host-only libraries may be imported, and how long a module may be.
Each rule lists every module that breaks it, not the first."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import pytest

from tests.support.paths import ROOT

SRC = ROOT / "src"
MAX_LINES = 400
#: shown, not failed: modules past the project's ~300-line guideline
LONG_LINES = 300
HOST_ONLY = ("llama_cpp", "uvicorn", "aiohttp")
LOW = ("llm_api.sse", "llm_api.errors", "llm_api.keys", "llm_api.usage", "llm_api.ratelimit",
       "llm_api.catalog", "llm_api.settings", "llm_api.stored_responses")  # fmt: skip
HIGH = ("llm_api.binding", "llm_api.services", "llm_api.routes", "llm_api.http", "llm_api.platform")


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, e.g. llm_api.routes.native
    target: str  # what it imports, e.g. llm_api.platform.local.state
    line: int
    in_function: bool

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        found += _imports(ast.parse(path.read_text(), str(path)), module, package)
    return tuple(found)


def _imports(tree: ast.AST, module: str, package: str) -> Iterator[Import]:
    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, in_function)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolved against the importing package
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:  # `from llm_api.binding import events` is a module
                    target = f"{base}.{alias.name}" if base.startswith("llm_api") else base
                    yield Import(module, target, child.lineno, in_function)
            yield from walk(child, inner)

    yield from walk(tree, False)


def _under(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _stdlib(name: str) -> bool:
    return name.partition(".")[0] in sys.stdlib_module_names


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    applies: Callable[[str], bool]  # to the importing module
    forbidden: Callable[[Import], bool]

    def violations(self) -> list[str]:
        return [str(i) for i in imports() if self.applies(i.module) and self.forbidden(i)]


RULES = [
    Rule(
        "schemas import only pydantic, the stdlib and llm_api.schemas",
        lambda m: _under(m, "llm_api.schemas"),
        lambda i: not (_stdlib(i.target) or _under(i.target, "pydantic", "llm_api.schemas")),
    ),
    Rule(
        "sse, errors, keys, usage, ratelimit, catalog, settings and stored_responses import no "
        "binding, "
        "services, routes, http or platform",
        lambda m: _under(m, *LOW),
        lambda i: _under(i.target, *HIGH),
    ),
    Rule(
        "binding imports no platform, services, routes or http",
        lambda m: _under(m, "llm_api.binding"),
        lambda i: _under(
            i.target, "llm_api.platform", "llm_api.services", "llm_api.routes", "llm_api.http"
        ),
    ),
    Rule(
        "services, routes, http and app import no llm_api.platform",
        lambda m: _under(m, "llm_api.services", "llm_api.routes", "llm_api.http", "llm_api.app"),
        lambda i: _under(i.target, "llm_api.platform"),
    ),
    Rule(
        "only platform/workers/ and entry.py name js, pyodide or workers",
        lambda m: not _under(m, "llm_api.platform.workers", "entry"),
        lambda i: _under(i.target, "js", "pyodide", "workers"),
    ),
    Rule(
        "llama_cpp, uvicorn and aiohttp only inside functions or under "
        "platform/local, platform/embedded, platform/remote",
        lambda m: (
            not _under(
                m, "llm_api.platform.local", "llm_api.platform.embedded", "llm_api.platform.remote"
            )
        ),
        lambda i: _under(i.target, *HOST_ONLY) and not i.in_function,
    ),
]


#: rules that code being changed in parallel still breaks; dropped once that work merges
@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_layer_rule(rule: Rule) -> None:
    broken = rule.violations()
    assert not broken, f"{rule.name}: {len(broken)} imports break it:\n" + "\n".join(broken)


def test_the_rules_see_the_imports_they_judge() -> None:
    """The reader itself: a rule over no imports would pass whatever the code does."""
    found = {(i.module, i.target) for i in imports()}
    assert ("llm_api.app", "llm_api.routes.native") in found  # from llm_api.routes import native
    assert ("entry", "workers") in found
    assert any(
        i.target == "uvicorn" and i.in_function for i in imports() if i.module == "llm_api.cli"
    )
    assert len({i.module for i in imports()}) > 60


def test_the_reader_resolves_relative_imports_and_sees_function_bodies() -> None:
    source = (
        "from . import state\nfrom ..binding.events import DONE\ndef f():\n    import uvicorn\n"
    )
    found = list(_imports(ast.parse(source), "llm_api.platform.local.x", "llm_api.platform.local"))
    assert [(i.target, i.in_function) for i in found] == [
        ("llm_api.platform.local.state", False),
        ("llm_api.platform.binding.events.DONE", False),
        ("uvicorn", True),
    ]


def test_importing_the_embedded_backend_loads_no_llama_cpp() -> None:
    """llama.cpp loads with the model, not with the module (so the fast suite never loads it)."""
    code = "import sys, llm_api.platform.embedded.backend; assert 'llama_cpp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_no_module_is_over_400_lines() -> None:
    lengths = {
        path.relative_to(SRC).as_posix(): len(path.read_text().splitlines())
        for path in SRC.rglob("*.py")
    }
    too_long = sorted(f"{name}: {n}" for name, n in lengths.items() if n > MAX_LINES)
    long = sorted(f"{name}: {n}" for name, n in lengths.items() if LONG_LINES < n <= MAX_LINES)
    print(f"modules over {LONG_LINES} lines: {', '.join(long) or 'none'}")
    assert not too_long, f"over {MAX_LINES} lines: " + ", ".join(too_long)
