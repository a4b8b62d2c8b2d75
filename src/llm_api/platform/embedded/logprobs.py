"""Token log-probabilities for the embedded model (OpenAI's ``logprobs``/``top_logprobs``).

llama-cpp-python's own ``create_completion(logprobs=...)`` needs ``logits_all=True``: it
keeps the logits of every position (n_ctx × n_vocab floats, 1.6 GB at 8,192 × 49,152) and
computes them for every prompt token too. Sampling needs only the last position's, which
llama.cpp keeps anyway; they are read here (``llama_get_logits_ith(ctx, -1)``) right after
each token is sampled, before the next one is evaluated, and their log-softmax is the
token's distribution: the model's own, before temperature, penalties or a grammar, as
OpenAI and vLLM report it. Nothing here runs unless a request asks for logprobs.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from llm_api.binding.protocol import TokenLogprob, TopLogprob

#: OpenAI's stand-in for a probability too small to write (JSON has no -Infinity)
MIN_LOGPROB = -9999.0
MAX_TOP_LOGPROBS = 20
#: token texts kept per model (a vocabulary has ~50,000; answers reuse a few thousand)
TOKEN_TEXTS_KEPT = 8192
TokenBytes = Callable[[int], bytes]
Scored = Callable[[list[TokenLogprob]], None]


def token_bytes_of(llm: Any) -> TokenBytes:
    """A token's bytes, control tokens included (a top alternative may be one: shown, not
    as "")."""
    return functools.lru_cache(maxsize=TOKEN_TEXTS_KEPT)(
        lambda token: llm.detokenize([token], special=True)
    )


def score(logits: np.ndarray, token: int, top: int, token_bytes: TokenBytes) -> TokenLogprob:
    """``token``'s entry: its log-probability under ``logits`` and the ``top`` best."""
    highest = float(logits.max())
    # log-softmax at the points asked for only: log Σ exp(x - max) once, in float64
    normaliser = highest + float(np.log(np.exp(logits - highest).sum(dtype=np.float64)))
    entry = TokenLogprob(**_item(token, logits, normaliser, token_bytes), top_logprobs=[])
    if top:
        best = np.argpartition(logits, -top)[-top:]
        best = best[np.argsort(-logits[best], kind="stable")]
        entry["top_logprobs"] = [_item(int(t), logits, normaliser, token_bytes) for t in best]
    return entry


def _item(token: int, logits: np.ndarray, normaliser: float, token_bytes: TokenBytes) -> TopLogprob:
    raw = token_bytes(token)
    # float32's shortest form (-0.31725305, as OpenAI writes them), never above 0
    value = float(str(np.float32(min(0.0, float(logits[token]) - normaliser))))
    return TopLogprob(
        token=raw.decode("utf-8", errors="replace"),
        logprob=max(MIN_LOGPROB, value),
        bytes=list(raw),
    )


class TokenScores:
    """The scored tokens of one generation, sent on as their text is.

    A token's text may be held back (a stop sequence may begin there) or cut (one did), so
    each entry waits until the text before it has gone out: ``send(n)``, once ``n`` more
    characters have, sends the tokens that begin before that point. Tokens that only made
    up a stop sequence are never sent, as their text never is.
    """

    def __init__(self, top: int, token_bytes: TokenBytes, sink: Scored) -> None:
        self.top = min(max(top, 0), MAX_TOP_LOGPROBS)
        self._token_bytes = token_bytes
        self._sink = sink
        self._waiting: deque[tuple[int, TokenLogprob]] = deque()  # (first character, entry)
        self._decoded = 0  # characters decoded so far
        self._sent = 0  # characters sent on so far

    @classmethod
    def of(
        cls, top: int | None, token_bytes: TokenBytes | None, sink: Scored | None
    ) -> TokenScores | None:
        """Scores for a job that asks for them (``top`` not None) and has a sink."""
        if top is None or token_bytes is None or sink is None:
            return None
        return cls(top, token_bytes, sink)

    def add(self, llm: Any, token: int, characters: int) -> None:
        """Score ``token`` (``characters`` of text decoded) from the logits it was drawn
        from: call it before the next token is evaluated."""
        n_vocab = llm.n_vocab()
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
        self.add_scored(score(logits, token, self.top, self._token_bytes), characters)

    def add_scored(self, entry: TokenLogprob, characters: int) -> None:
        self._waiting.append((self._decoded, entry))
        self._decoded += characters

    def send(self, characters: int | None = None) -> None:
        """Send the entries whose text now began to go out (``None``: all the rest)."""
        self._sent = self._decoded + 1 if characters is None else self._sent + characters
        out: list[TokenLogprob] = []
        while self._waiting and self._waiting[0][0] < self._sent:
            out.append(self._waiting.popleft()[1])
        if out:
            self._sink(out)
