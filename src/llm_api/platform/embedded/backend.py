"""The embedded model: llama.cpp running a small instruct GGUF inside this process.

One ``Llama`` is loaded once (lazily, or by ``load()`` at start-up). Generation runs in
one dedicated worker thread: requests queue there instead of interleaving on the shared
llama context, and each starts from a reset context with its own seed. Tokens reach the
event loop through ``call_soon_threadsafe`` as they are sampled. Every request carries a
stop flag that the worker checks after each token (and each chunk of the prompt), so a
client that goes away stops generation within a token, and a request cancelled while
queued never starts.

Every catalog model id is answered by this one model. CPython host only: llama.cpp is
imported inside ``load()``, never at import time.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from llm_api.binding.protocol import LOGPROBS, RunResult, SSEByteStream, TokenLogprob
from llm_api.errors import ApiError, BackendError
from llm_api.platform.embedded.call_reader import CallReader
from llm_api.platform.embedded.grammar_check import CheckedGrammars, GrammarChecker
from llm_api.platform.embedded.loading import MODEL_FILE, default_model_path, llama_build
from llm_api.platform.embedded.logprobs import Scored, TokenScores, token_bytes_of
from llm_api.platform.embedded.request import (
    Job,
    StopMatcher,
    prepare,
    result_body,
    shape_output,
)
from llm_api.sse import DONE_FRAME, encode_data, encode_response

log = logging.getLogger("llm_api.embedded")

#: prompt tokens evaluated between two looks at the stop flag: a client that leaves
#: during a long prompt frees the worker within one chunk, not after the whole prompt
PREFILL_CHUNK_TOKENS = 128
Piece = Callable[[str], None]


class EmbeddedBackend:
    """An ``AIBinding`` answered by llama.cpp in this process."""

    features = frozenset({LOGPROBS})

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        extra_buffers: bool = False,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        name = Path(model_path).name if model_path is not None else Path(MODEL_FILE).name
        self.engine = "embedded:" + name.removesuffix(".gguf").replace(".", "-")
        self.n_ctx = n_ctx
        # Half the cores, as llama-cpp-python defaults: its OpenMP threads spin while they
        # wait for each other, so one thread per core collapses (65 -> 5 tok/s measured on
        # 2 cores) as soon as anything else, the HTTP server included, wants a core.
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        # llama.cpp's extra weight buffers (AMX tiles, CPU repacking) barely matter for a
        # 135M model, and a -march=native build on a VM that advertises AMX without
        # enabling it dies of SIGILL at the first decode (seen on Firecracker hosts).
        self.extra_buffers = extra_buffers
        #: tokens sampled since start-up (all requests): lets tests and metrics see work done
        self.tokens_generated = 0
        self._llm: Any = None
        self._formatter: Any = None
        self._is_eog: Callable[[int], bool] = lambda token: False
        self._token_bytes: Callable[[int], bytes] | None = None
        self._load_lock = threading.Lock()
        self._grammars: CheckedGrammars | None = None
        self._jobs: dict[concurrent.futures.Future[Any], Job] = {}
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llm-embedded")

    @property
    def busy(self) -> bool:
        """Whether a generation is running or queued."""
        return bool(self._jobs)

    async def load(self) -> None:
        """Load the model now (the CLI calls this at start-up); later calls return at once."""
        if self._llm is None:
            await asyncio.to_thread(self._load)

    async def aclose(self) -> None:
        """Stop every request (each within a token) and free the model; the CLI's shutdown."""
        for job in list(self._jobs.values()):
            job.cancelled.set()
        await asyncio.to_thread(self._worker.shutdown, wait=True, cancel_futures=True)
        if self._grammars is not None:
            self._grammars.checker.close()
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        await self.load()
        # Validation (context size, grammar) happens before the first byte of a stream.
        job = await asyncio.to_thread(self._prepare, inputs)
        if inputs.get("stream"):
            return self._stream(job)
        return await self._complete(job)

    # -- loading and preparing (any thread) -------------------------------------------

    def _load(self) -> None:
        with self._load_lock:  # two first requests must not load the model twice
            if self._llm is not None:
                return
            path = self.model_path or default_model_path()
            if not path.is_file():
                raise BackendError(f"the embedded model file does not exist: {path}")
            try:
                import llama_cpp
                from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter
                from llama_cpp.llama_grammar import LlamaGrammar
            except ImportError as exc:
                raise BackendError(
                    "the embedded model needs llama-cpp-python: pip install 'llm-api[local]'"
                ) from exc
            started = time.perf_counter()
            try:
                with llama_build(use_extra_bufts=self.extra_buffers):
                    llm = llama_cpp.Llama(
                        model_path=str(path),
                        n_ctx=self.n_ctx,
                        n_threads=self.n_threads,
                        n_threads_batch=self.n_threads,
                        verbose=False,
                    )
            except Exception as exc:
                raise BackendError(f"llama.cpp could not load {path}: {exc}") from exc
            model = llm._model  # the vocabulary handle is not public in llama-cpp-python
            eos = llm.token_eos()
            self._formatter = Jinja2ChatFormatter(
                template=llm.metadata.get("tokenizer.chat_template") or CHATML_CHAT_TEMPLATE,
                eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(llm.token_bos()) if llm.token_bos() != -1 else "",
            )
            self._is_eog = lambda token: bool(llama_cpp.llama_vocab_is_eog(model.vocab, token))
            self._token_bytes = token_bytes_of(llm)
            checker = GrammarChecker(path)
            checker.start()  # it reads the vocabulary while the first request is on its way
            self._grammars = CheckedGrammars(
                checker, lambda gbnf: LlamaGrammar.from_string(gbnf, verbose=False)
            )
            self._llm = llm
            log.info(
                "embedded model %s loaded in %.2f s (n_ctx=%d, n_threads=%d)",
                path,
                time.perf_counter() - started,
                self.n_ctx,
                self.n_threads,
            )

    def _prepare(self, inputs: dict[str, Any]) -> Job:
        return prepare(
            inputs,
            render=lambda messages: self._formatter(messages=messages).prompt,
            # Tokenised as llama.cpp's own chat handler does: the template adds any BOS.
            tokenize=lambda text: self._llm.tokenize(text.encode(), add_bos=False, special=True),
            n_ctx=self.n_ctx,
            grammar=self._grammar,
        )

    def _grammar(self, gbnf: str, param: str) -> Any:
        # Compiled in the checker's child process first: a grammar that crashes llama.cpp
        # takes that child down (a 400), not the server; only then is it used here.
        assert self._grammars is not None
        return self._grammars.get(gbnf, param)

    # -- running (the event loop side) ------------------------------------------------

    def _submit(self, job: Job, work: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        try:
            job.future = self._worker.submit(work)
        except RuntimeError as exc:  # submitted after aclose()
            raise BackendError("the embedded model has been shut down") from exc
        self._jobs[job.future] = job
        job.future.add_done_callback(lambda done: self._jobs.pop(done, None))
        return job.future

    async def _settle(self, job: Job) -> None:
        """Stop ``job``: a queued one never starts, a running one stops within a token."""
        job.cancelled.set()
        if job.future is None or job.future.cancel() or job.future.done():
            return
        try:
            await asyncio.wrap_future(job.future)
        except Exception:
            pass  # the caller is gone; there is no one to tell

    async def _complete(self, job: Job) -> RunResult:
        scored: list[TokenLogprob] = []
        future = self._submit(job, lambda: self._generate(job, None, scored.extend))
        try:
            text, count, finish = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            await self._settle(job)
            raise
        except ApiError:
            raise
        except Exception as exc:
            raise BackendError(f"llama.cpp failed: {exc}") from exc
        response, calls, finish = shape_output(text, finish, job.tool_names)
        result = result_body(response, calls, finish, job.prompt_tokens, count)
        if job.top_logprobs is not None and not calls:
            result["logprobs"] = scored
        return result  # type: ignore[return-value]

    async def _stream(self, job: Job) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is closed: nobody is listening any more
                job.cancelled.set()

        def work() -> None:
            try:
                scored = lambda entries: put("logprobs", entries)  # noqa: E731
                put("end", self._generate(job, lambda piece: put("piece", piece), scored))
            except BaseException as exc:
                put("error", exc)

        self._submit(job, work)
        # With tools, the first character tells a call ("{") from text; a call is sent as
        # tool-call fragments as it is generated: its name, then pieces of its arguments.
        deciding = bool(job.tool_names)
        call: CallReader | None = None
        undecided_logprobs: list[Any] = []  # sent only once the first piece is not a call
        try:
            while True:
                kind, value = await queue.get()
                if kind == "piece":
                    if deciding and value:
                        deciding = False
                        call = CallReader(job.tool_names) if value.startswith("{") else None
                        if call is None:
                            for entries in undecided_logprobs:
                                yield encode_data({"response": "", "logprobs": entries})
                    if call is not None:
                        for fragment in call.feed(value):
                            yield _fragment_frame(fragment)
                    elif value:
                        yield encode_response(value)
                elif kind == "logprobs":  # the next piece's tokens: the service joins them
                    if deciding:
                        undecided_logprobs.append(value)
                    elif call is None:  # a call's answer has none (logprobs: null)
                        yield encode_data({"response": "", "logprobs": value})
                elif kind == "error":
                    if isinstance(value, ApiError):
                        raise value
                    raise BackendError(f"llama.cpp failed: {value}") from value
                else:
                    _text, count, finish = value
                    if call is not None:
                        for fragment in call.finish():  # a call cut inside its name
                            yield _fragment_frame(fragment)
                        finish = "tool_calls" if call.complete else finish
                    final = result_body("", None, finish, job.prompt_tokens, count)
                    yield encode_data(final)
                    yield DONE_FRAME
                    return
        finally:
            await self._settle(job)

    # -- generating (the worker thread only) ------------------------------------------

    def _prefill(self, job: Job) -> bool:
        """Evaluate the prompt in chunks; ``False`` once cancelled.

        ``generate`` then finds the whole prompt evaluated and samples at once.
        """
        llm = self._llm
        llm.reset()  # no state (KV cache, sampler) carries over from another request
        for start in range(0, len(job.tokens), PREFILL_CHUNK_TOKENS):
            if job.cancelled.is_set():
                return False
            llm.eval(job.tokens[start : start + PREFILL_CHUNK_TOKENS])
        return not job.cancelled.is_set()

    def _generate(
        self, job: Job, emit: Piece | None, scored: Scored | None = None
    ) -> tuple[str, int, str]:
        """Sample ``job`` on the shared context: ``(text, completion tokens, finish)``;
        with ``job.top_logprobs``, each piece's token entries go to ``scored`` first."""
        if not self._prefill(job):
            return "", 0, "stop"
        llm = self._llm
        scores = TokenScores.of(job.top_logprobs, self._token_bytes, scored)
        llm.set_seed(job.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopMatcher(job.stop)
        parts: list[str] = []
        count, finish = 0, "length"
        tokens = llm.generate(job.tokens, grammar=job.grammar, **job.sampling)
        try:
            for token in tokens:
                if job.cancelled.is_set():
                    break
                self.tokens_generated += 1
                if self._is_eog(token):
                    finish = "stop"
                    break
                count += 1
                text = decoder.decode(llm.detokenize([token]))
                if scores is not None:  # before the next token overwrites its logits
                    scores.add(llm, token, len(text))
                piece, hit = stops.feed(text)
                if piece:
                    parts.append(piece)
                    if scores is not None:
                        scores.send(len(piece))
                    if emit:
                        emit(piece)
                if hit:
                    finish = "stop"
                    break
                if count >= job.max_tokens:
                    break
        finally:
            tokens.close()
        if not stops.hit:
            tail = stops.flush() + decoder.decode(b"", final=True)
            if scores is not None:
                scores.send()
            if tail:
                parts.append(tail)
                if emit:
                    emit(tail)
        return "".join(parts), count, finish


def _fragment_frame(fragment: dict[str, Any]) -> bytes:
    """A tool-call fragment in the binding's stream (``events.parse_event`` reads it)."""
    return encode_data({"response": "", "tool_calls": [fragment]})
