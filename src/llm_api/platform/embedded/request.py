"""Workers AI text-generation inputs, turned into one generation job for the embedded model.

Pure Python: the backend hands in its chat-template renderer, tokenizer and grammar
compiler, so this module never touches llama.cpp itself.
"""

from __future__ import annotations

import concurrent.futures
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llm_api.errors import ContextOverflow, InvalidRequest
from llm_api.platform.embedded import grammar as shapes
from llm_api.platform.embedded.call_reader import CallReader

DEFAULT_MAX_TOKENS = 256  # Workers AI's default
#: most stop sequences one request may give (OpenAI allows 4), and the longest one
MAX_STOP_SEQUENCES = 16
MAX_STOP_CHARS = 1000
#: OpenAI's bound on ``top_logprobs``
MAX_TOP_LOGPROBS = 20
DEFAULT_TEMPERATURE = 0.6  # Workers AI's default for its instruct models
_SAMPLING = {  # Workers AI input -> llama.cpp sampler argument
    "top_p": ("top_p", float),
    "top_k": ("top_k", int),
    "repetition_penalty": ("repeat_penalty", float),
    "frequency_penalty": ("frequency_penalty", float),
    "presence_penalty": ("presence_penalty", float),
}


@dataclass(slots=True)
class Job:
    """One request, ready to sample; ``cancelled`` is its stop flag."""

    tokens: list[int]
    max_tokens: int
    sampling: dict[str, Any]
    seed: int
    stop: list[str]
    grammar: Any  # LlamaGrammar | None
    tool_names: frozenset[str]
    #: the alternatives per token of OpenAI's ``top_logprobs``; None: no logprobs asked
    top_logprobs: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    future: concurrent.futures.Future[Any] | None = None

    @property
    def prompt_tokens(self) -> int:
        return len(self.tokens)


def prepare(
    inputs: dict[str, Any],
    *,
    render: Callable[[list[dict[str, str]]], str],
    tokenize: Callable[[str], list[int]],
    n_ctx: int,
    grammar: Callable[[str, str], Any],
) -> Job:
    """Validate ``inputs`` and build the job; raises ``InvalidRequest``/``ContextOverflow``.

    ``grammar(gbnf, param)`` compiles a grammar, refusing it as a fault of ``param``.
    """
    messages, param = template_messages(inputs)
    stop = stop_sequences(inputs.get("stop"))
    tools = shapes.parse_tools(inputs.get("tools"))
    mode, allowed = shapes.tool_mode(inputs.get("tool_choice"), tools)
    if allowed:
        messages = _with_system(messages, shapes.tools_prompt(allowed, mode))
        gbnf = shapes.tools_gbnf(allowed, allow_text=mode == "auto")
    else:
        gbnf = shapes.response_format_gbnf(inputs.get("response_format"))
    try:
        prompt = render(messages)
    except Exception as exc:  # the model's template rejects the conversation
        message = f"the chat template rejected the {param}: {exc}"
        raise InvalidRequest(message, param=param) from exc
    tokens = tokenize(prompt)
    if len(tokens) >= n_ctx:
        raise ContextOverflow(
            f"the {param} is {len(tokens)} tokens, but the model's context holds "
            f"{n_ctx} tokens in all",
            param=param,
        )
    seed = _number(inputs, "seed", int, None)
    max_tokens = _number(inputs, "max_tokens", int, DEFAULT_MAX_TOKENS)
    return Job(
        tokens=tokens,
        max_tokens=max(1, min(max_tokens, n_ctx - len(tokens))),
        sampling=_sampling(inputs),
        seed=seed & 0xFFFFFFFF if seed is not None else random.getrandbits(32),
        stop=stop,
        grammar=grammar(gbnf, "tools" if allowed else "response_format") if gbnf else None,
        tool_names=frozenset(tool.name for tool in allowed),
        top_logprobs=_top_logprobs(inputs),
    )


def _top_logprobs(inputs: dict[str, Any]) -> int | None:
    """``top_logprobs`` (0..20, OpenAI's bounds) when ``logprobs`` is asked, else None."""
    if not inputs.get("logprobs"):
        return None
    top = _number(inputs, "top_logprobs", int, 0)
    if not 0 <= top <= MAX_TOP_LOGPROBS:
        raise InvalidRequest(
            f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}", param="top_logprobs"
        )
    return top


def stop_sequences(raw: Any) -> list[str]:
    """The ``stop`` input as a list of sequences, within the bounds."""
    if raw is None or raw == "":
        return []
    stops = [raw] if isinstance(raw, str) else raw
    if not isinstance(stops, list) or not all(isinstance(stop, str) for stop in stops):
        raise InvalidRequest("stop must be a string or a list of strings", param="stop")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(
            f"stop: {len(stops)} sequences given; the embedded model allows at most "
            f"{MAX_STOP_SEQUENCES}",
            param="stop",
        )
    longest = max(map(len, stops), default=0)
    if longest > MAX_STOP_CHARS:
        raise InvalidRequest(
            f"stop: a sequence is {longest} characters; the embedded model allows at most "
            f"{MAX_STOP_CHARS} characters",
            param="stop",
        )
    return [stop for stop in stops if stop]


class StopMatcher:
    """Cuts the text where a stop sequence first ends, holding back what may begin one.

    Each sequence has a KMP automaton (its state: how much of it the text ends with),
    so each character costs O(number of sequences) however long they are; comparing
    every prefix of every sequence with the text again for each token was quadratic.
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [stop for stop in stops if stop]
        self.held = ""
        self.hit = False
        self._fallback = [_fallback(stop) for stop in self.stops]
        self._matched = [0] * len(self.stops)

    def feed(self, text: str) -> tuple[str, bool]:
        """The text that is now certain not to be part of a stop, and whether one ended."""
        if not self.stops:
            return text, False
        for end, char in enumerate(text, 1):
            ended = 0  # the longest sequence that ends at this character
            for index, stop in enumerate(self.stops):
                matched, fallback = self._matched[index], self._fallback[index]
                while matched and stop[matched] != char:
                    matched = fallback[matched - 1]
                if stop[matched] == char:
                    matched += 1
                if matched == len(stop):
                    ended, matched = max(ended, matched), fallback[matched - 1]
                self._matched[index] = matched
            if ended:
                kept = self.held + text[:end]
                self.held, self.hit = "", True
                return kept[: len(kept) - ended], True
        # What may begin a sequence is exactly the longest partial match: hold it back.
        kept, keep = self.held + text, max(self._matched)
        self.held = kept[len(kept) - keep :] if keep else ""
        return kept[: len(kept) - keep], False

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held


def _fallback(stop: str) -> list[int]:
    """KMP's failure function: for each prefix, its longest proper border."""
    fallback, border = [0] * len(stop), 0
    for i in range(1, len(stop)):
        while border and stop[i] != stop[border]:
            border = fallback[border - 1]
        if stop[i] == stop[border]:
            border += 1
        fallback[i] = border
    return fallback


def template_messages(inputs: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """The conversation as plain ``{role, content}`` messages, and the input it came from."""
    if inputs.get("messages"):
        return [_plain_message(message) for message in inputs["messages"]], "messages"
    if isinstance(inputs.get("prompt"), str):
        # Workers AI applies the chat template to a bare prompt too.
        return [{"role": "user", "content": inputs["prompt"]}], "prompt"
    raise InvalidRequest("either prompt or messages is required", param="messages")


def _plain_message(message: Any) -> dict[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise InvalidRequest("each message needs a role and content", param="messages")
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    content = str(content)
    for call in message.get("tool_calls") or []:  # show the model the calls it made
        spec = call.get("function", call) if isinstance(call, dict) else {}
        arguments = spec.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except ValueError:
                pass
        shown = json.dumps({"name": spec.get("name"), "arguments": arguments}, ensure_ascii=False)
        content += ("\n" if content else "") + shown
    return {"role": message["role"], "content": content}


def _with_system(messages: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": f"{messages[0]['content']}\n\n{text}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def _sampling(inputs: dict[str, Any]) -> dict[str, Any]:
    sampling = {"temp": max(0.0, _number(inputs, "temperature", float, DEFAULT_TEMPERATURE))}
    for key, (name, kind) in _SAMPLING.items():
        if inputs.get(key) is not None:
            sampling[name] = _number(inputs, key, kind, None)
    return sampling


def _number(inputs: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = inputs.get(key)
    if value is None:
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"{key} must be a number", param=key) from None


def shape_output(
    text: str, finish: str, tool_names: frozenset[str]
) -> tuple[str, list[dict[str, Any]] | None, str]:
    """``(response, tool_calls, finish_reason)``: a complete call becomes ``tool_calls``;
    one cut by ``max_tokens`` too, its arguments the text generated (``finish`` "length")."""
    if tool_names and text.startswith("{"):  # a call: the grammar's text never starts so
        call = shapes.parse_tool_call(text, tool_names)
        if call is not None:
            return "", [call], "tool_calls"
        if finish == "length":
            reader = CallReader(tool_names)
            reader.feed(text)
            cut = reader.cut_call()
            return "", [cut] if cut else None, finish
    return text, None, finish


def result_body(
    response: str, calls: list[dict[str, Any]] | None, finish: str, prompt: int, completion: int
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "response": response,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            # known: each request starts from a reset context (no thinking is told apart,
            # so reasoning_tokens is not: a GGUF that thinks does so in the text)
            "prompt_tokens_details": {"cached_tokens": 0},
        },
        "finish_reason": finish,
    }
    if calls:
        result["tool_calls"] = calls
    return result
