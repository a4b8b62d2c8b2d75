"""Each new grammar is compiled first where a crash cannot take the server with it.

llama.cpp's grammar parser recurses per nesting level and can overflow its stack on a
grammar that the bounds in ``embedded_limits`` did not foresee; in the server, that is
a segfault that ends every request at once. So a small long-lived child process
(``python -m llm_api.platform.embedded.grammar_check MODEL``) loads only the model's
vocabulary and compiles each new grammar, on a thread whose stack is smaller than the
server's, answering ``ok`` or ``error`` over a pipe. Its crash (end of file), or a
compile slower than ``CHECK_TIMEOUT_S``, becomes a 400 and the child is started again.
llama.cpp prints each grammar it rejects to stderr; the child's stderr goes nowhere.

The parent side imports no llama.cpp; the child imports nothing else of this project.
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from llm_api.errors import BackendError, InvalidRequest

log = logging.getLogger("llm_api.embedded")

#: longest one compile may take before the child is killed and the grammar refused
CHECK_TIMEOUT_S = 5.0
#: longest the child may take to start (import llama.cpp, read the vocabulary)
START_TIMEOUT_S = 60.0
#: the stack the child compiles on: a grammar that fits in it fits in the server's
#: threads (8 MiB by default) with room to spare (in 1 MiB, 2,000 nesting levels fit)
CHECK_STACK_BYTES = 1 << 20
#: most grammars the server keeps compiled, and their most characters in all
GRAMMAR_CACHE_ENTRIES = 64
GRAMMAR_CACHE_CHARS = 2_000_000


class _Gone(Exception):
    """The child died, hung, or never started."""


class GrammarChecker:
    """The parent's handle on the child; ``check`` may be called from any thread."""

    def __init__(self, model_path: Path, *, timeout_s: float = CHECK_TIMEOUT_S) -> None:
        self.model_path = model_path
        self.timeout_s = timeout_s
        self.restarts = 0  #: children started after the first (crashes and timeouts)
        self._child: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child without waiting for it (the first ``check`` waits)."""
        with self._lock:
            self._spawn()

    def check(self, gbnf: str, param: str) -> None:
        """Return if llama.cpp compiles ``gbnf``; else raise ``InvalidRequest`` for ``param``."""
        started = time.perf_counter()
        with self._lock:
            try:
                answer = self._ask(gbnf.encode())
            except _Gone as exc:
                self._stop()
                self.restarts += 1
                log.warning("grammar check for %s failed: %s; the checker restarts", param, exc)
                raise InvalidRequest(
                    f"{param}: the grammar for this schema is too complex for llama.cpp ({exc})",
                    param=param,
                ) from None
        if answer != b"ok":
            log.warning("llama.cpp refused the %d-character grammar for %s", len(gbnf), param)
            raise InvalidRequest(
                f"{param}: llama.cpp cannot compile the grammar for this schema; simplify it "
                "(fewer or smaller maxLength, maxItems and pattern repetitions)",
                param=param,
            )
        log.debug("grammar checked in %.1f ms", (time.perf_counter() - started) * 1000)

    def close(self) -> None:
        with self._lock:
            self._stop()

    # -- the parent's side of the pipe (under the lock) ------------------------------

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            # The child must import this same source tree, wherever the parent found it.
            # (the folder holding ``llm_api``: one level up per part of this module's name)
            src = str(Path(__file__).resolve().parents[__name__.count(".")])
            path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__, str(self.model_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
            self._ready = False
        return self._child

    def _ask(self, data: bytes) -> bytes:
        child = self._spawn()
        assert child.stdin is not None and child.stdout is not None
        if not self._ready:
            if _read_line(child.stdout, START_TIMEOUT_S) != b"ready":
                log.error("the grammar checker did not start for %s", self.model_path)
                raise BackendError("the embedded model's grammar checker did not start")
            self._ready = True
        try:
            child.stdin.write(b"%d\n" % len(data) + data)
            child.stdin.flush()
        except OSError:
            raise _Gone(f"its compiler exited with status {child.wait()}") from None
        answer = _read_line(child.stdout, self.timeout_s)
        if answer is None:
            raise _Gone(f"compiling it took longer than {self.timeout_s:g} s")
        if not answer:
            raise _Gone(f"its compiler crashed with status {child.wait()}")
        return answer

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.wait()
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    pipe.close()


def _read_line(pipe: IO[bytes], timeout_s: float) -> bytes | None:
    """One line without its newline; ``b""`` at end of file, ``None`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([pipe], [], [], remaining)[0]:
            return None
        chunk = os.read(pipe.fileno(), 64)
        if not chunk:
            return b""
        line += chunk
    return line.rstrip(b"\n")


class CheckedGrammars:
    """Grammars that passed the check, least recently used first, bounded in count and size.

    Only a grammar seen for the first time pays for the round trip to the child.
    """

    def __init__(
        self,
        checker: GrammarChecker,
        build: Callable[[str], Any],
        *,
        entries: int = GRAMMAR_CACHE_ENTRIES,
        chars: int = GRAMMAR_CACHE_CHARS,
    ) -> None:
        self.checker = checker
        self.entries, self.chars = entries, chars
        self._build = build
        self._grammars: OrderedDict[str, Any] = OrderedDict()
        self._size = 0  # characters of the grammars held
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._grammars)

    @property
    def size(self) -> int:
        return self._size

    def get(self, gbnf: str, param: str) -> Any:
        with self._lock:
            if gbnf in self._grammars:
                self._grammars.move_to_end(gbnf)
                return self._grammars[gbnf]
        self.checker.check(gbnf, param)
        grammar = self._build(gbnf)
        with self._lock:
            if gbnf not in self._grammars:
                self._size += len(gbnf)
            self._grammars[gbnf] = grammar
            while len(self._grammars) > self.entries or self._size > self.chars:
                oldest, _ = self._grammars.popitem(last=False)
                self._size -= len(oldest)
        return grammar


# -- the child -----------------------------------------------------------------------


def _serve(model_path: str, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(model_path.encode(), params)
    if not model:
        return 2
    vocab = llama_cpp.llama_model_get_vocab(model)
    stdout.write(b"ready\n")
    stdout.flush()
    while header := stdin.readline():
        grammar = stdin.read(int(header))
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar, b"root")
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
        stdout.write(b"ok\n" if sampler else b"error\n")
        stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    status: list[int] = [1]

    def run() -> None:
        status[0] = _serve(argv[0], sys.stdin.buffer, sys.stdout.buffer)

    threading.stack_size(CHECK_STACK_BYTES)
    thread = threading.Thread(target=run, name="grammar-check")
    thread.start()
    thread.join()
    return status[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
