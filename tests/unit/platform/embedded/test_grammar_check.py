"""Grammars are compiled first in a child process, and kept in a bounded cache (issue 12).

Finding 1: a grammar that crashes llama.cpp's compiler must not take the server with
it. The first test really reproduces the segfault in the checker's child; the next ones
show that the same grammar is a 400 for the caller and that the checker recovers.
Finding 6: the cache of checked grammars is bounded by count and size, and a rejected
grammar is one log line instead of the whole grammar on stderr.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_api.errors import BackendError, InvalidRequest
from llm_api.platform.embedded.grammar_check import CheckedGrammars, GrammarChecker
from llm_api.platform.embedded.loading import default_model_path

pytestmark = pytest.mark.llama  # loads llama.cpp: `make test` runs it, `make test-fast` skips it

pytest.importorskip("llama_cpp", reason="the grammar checker runs llama.cpp")

#: nesting that overflows the compiler's stack: bounding keeps schemas far from this,
#: so the checker is what stands between such a grammar and the server
CRASHING_GBNF = "root ::= " + '("a" ' * 20_000 + ")?" * 20_000
REJECTED_GBNF = 'root ::= ( "unclosed'


@pytest.fixture
def checker() -> Iterator[GrammarChecker]:
    checker = GrammarChecker(default_model_path())
    yield checker
    checker.close()


def test_deep_grammar_really_segfaults_llama_cpp_in_the_child() -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_api.platform.embedded.grammar_check",
            str(default_model_path()),
        ],
        input=b"%d\n%s" % (len(CRASHING_GBNF), CRASHING_GBNF.encode()),
        capture_output=True,
        timeout=120,
    )
    assert child.stdout == b"ready\n"  # it started, then died without an answer
    assert child.returncode == -signal.SIGSEGV


def test_grammar_that_crashes_the_compiler_is_a_400_and_the_checker_recovers(
    checker: GrammarChecker, caplog: pytest.LogCaptureFixture
) -> None:
    checker.check('root ::= "warm"', "response_format")
    with caplog.at_level(logging.WARNING, logger="llm_api.embedded"):
        with pytest.raises(InvalidRequest) as caught:
            checker.check(CRASHING_GBNF, "response_format")

    assert caught.value.status == 400 and caught.value.param == "response_format"
    assert "too complex for llama.cpp" in caught.value.message
    assert f"crashed with status {-signal.SIGSEGV}" in caught.value.message
    assert checker.restarts == 1
    assert [r.getMessage() for r in caplog.records] == [
        "grammar check for response_format failed: its compiler crashed with status "
        f"{-signal.SIGSEGV}; the checker restarts"
    ]
    checker.check('root ::= "after"', "response_format")  # a new child answers


def test_rejected_grammar_is_one_log_line_and_nothing_on_stderr(
    checker: GrammarChecker, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.WARNING, logger="llm_api.embedded"):
        with pytest.raises(InvalidRequest) as caught:
            checker.check(REJECTED_GBNF + " x" * 50_000, "tools")

    assert caught.value.param == "tools"
    assert "llama.cpp cannot compile the grammar" in caught.value.message
    assert len(caplog.records) == 1 and "refused" in caplog.records[0].getMessage()
    assert capfd.readouterr().err == ""  # llama.cpp used to print the whole grammar here
    assert checker.restarts == 0


def test_compile_that_hangs_is_a_400_after_the_time_bound(checker: GrammarChecker) -> None:
    checker.check('root ::= "warm"', "tools")
    child = checker._child
    assert child is not None
    os.kill(child.pid, signal.SIGSTOP)  # as a compile that never ends would look
    _pid, status = os.waitpid(child.pid, os.WUNTRACED)  # until every thread has stopped
    assert os.WIFSTOPPED(status)
    checker.timeout_s = 0.5
    with pytest.raises(InvalidRequest, match=r"took longer than 0.5 s"):
        checker.check('root ::= "stuck"', "tools")

    assert child.poll() is not None and checker.restarts == 1
    checker.check('root ::= "after"', "tools")


def test_checker_that_cannot_start_is_a_backend_error(tmp_path: Path) -> None:
    checker = GrammarChecker(tmp_path / "missing.gguf")
    try:
        with pytest.raises(BackendError, match="grammar checker did not start"):
            checker.check('root ::= "a"', "tools")
    finally:
        checker.close()


class CountingChecker:
    """Stands in for the child: refuses grammars containing "bad", counts the rest."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def check(self, gbnf: str, param: str) -> None:
        self.checked.append(gbnf)
        if "bad" in gbnf:
            raise InvalidRequest("refused", param=param)


def cache(entries: int = 3, chars: int = 1000) -> tuple[CheckedGrammars, CountingChecker]:
    counting = CountingChecker()
    grammars = CheckedGrammars(
        counting, lambda gbnf: ("compiled", gbnf), entries=entries, chars=chars
    )  # type: ignore[arg-type]
    return grammars, counting


def test_grammar_cache_is_bounded_by_count_least_recently_used_first() -> None:
    grammars, counting = cache(entries=3)
    for name in ["a", "b", "c"]:
        grammars.get(name, "tools")
    grammars.get("a", "tools")  # used again: "b" is now the oldest
    grammars.get("d", "tools")

    assert len(grammars) == 3 and counting.checked == ["a", "b", "c", "d"]
    grammars.get("a", "tools")
    grammars.get("b", "tools")  # evicted: checked again
    assert counting.checked == ["a", "b", "c", "d", "b"]


def test_grammar_cache_is_bounded_by_total_size() -> None:
    grammars, _ = cache(entries=100, chars=1000)
    for index in range(10):
        grammars.get(f"{index}" * 300, "tools")

    assert grammars.size <= 1000 and len(grammars) == 3
    assert grammars.size == sum(map(len, grammars._grammars))


def test_cached_grammar_skips_the_check_and_rejected_one_is_not_kept() -> None:
    grammars, counting = cache()
    assert grammars.get("good", "tools") == ("compiled", "good")
    assert grammars.get("good", "tools") == ("compiled", "good")
    for _ in range(2):
        with pytest.raises(InvalidRequest):
            grammars.get("bad", "tools")

    assert counting.checked == ["good", "bad", "bad"] and len(grammars) == 1
