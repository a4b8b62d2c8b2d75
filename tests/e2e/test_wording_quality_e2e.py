"""The wording quality of the embedded model's answers (issue 17), end to end.

Twenty-one varied requests to the four wording endpoints (level feedback at all six CEFR
levels; conversation topics in English, Spanish, French and German; session summaries of
short and long transcripts; image and video prompts) go to the real server and its
embedded model. Every sentence or phrase the answers hold is scored with the wording check
(``llm_api.services.wording_check``): the test fails when fewer than 90% of them are
model-written and pass. ``x-llm-wording: model=N,template=M`` says how many are code-written
templates; templates count as not model-written.

``LLM_API_WORDING_REPORT=<file>`` writes the per-endpoint score and time per request as JSON.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from llm_api.services.wording_check import Expect, problems
from tests.support.tutor_seed import SEED_ANALYSIS, SEED_PARTICIPANTS
from tests.support.wording_cases import (
    CUE_WORDS,
    FEEDBACK_CASES,
    GRAMMAR_TERMS,
    PROMPT_CASES,
    SKILL_LABELS,
    SUMMARY_CASES,
    TOPIC_CASES,
)

THRESHOLD = 0.9
Pieces = list[tuple[str, Expect]]


@dataclass
class Tally:
    requests: int = 0
    seconds: float = 0.0
    pieces: int = 0
    passed: int = 0
    templates: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return (self.passed - self.templates) / self.pieces if self.pieces else 0.0


def wording_counts(response: httpx.Response, pieces: int) -> tuple[int, int]:
    """``(model, template)`` from ``x-llm-wording``; without it, everything is the model's."""
    header = response.headers.get("x-llm-wording")
    if header is None:
        return pieces, 0
    counts = dict(part.split("=") for part in header.split(","))
    return int(counts["model"]), int(counts["template"])


# -- what each answer holds, and what each piece is about ---------------------------------


def ranked(analysis: dict[str, float]) -> list[str]:
    order = list(SKILL_LABELS)
    return [SKILL_LABELS[k] for k in sorted(order, key=lambda k: (-analysis[k], order.index(k)))]


def feedback_pieces(body: dict[str, Any], request: dict[str, Any]) -> Pieces:
    lines = body["feedback"].splitlines()
    top = ranked(request["analysis"])[:2]
    rest = [label for label in ranked(request["analysis"]) if label not in top]
    overall = re.sub(r"^At .*? lowest in [^()]+ \([\d.]+\)\.\s*", "", lines[1])
    pieces: Pieces = [(overall, Expect(subject=(*SKILL_LABELS.values(), "level")))]
    section = ""
    for line in lines[2:]:
        if line.endswith(":") and not line.startswith(("-", "1", "2", "3", "4")):
            section = line
            continue
        bullet = re.fullmatch(r"- ([A-Za-z ]+) \([\d.]+%\): (.*)", line)
        if bullet:
            pieces.append((bullet[2], Expect(subject=(bullet[1],))))
        elif numbered := re.fullmatch(r"\d\. (.*)", line):
            pieces.append((numbered[1], Expect(subject=tuple(rest))))
        elif line and section.startswith("Next Steps"):
            pieces.append((line, Expect(subject=tuple(rest))))
    return pieces


def topic_pieces(body: dict[str, Any], request: dict[str, Any]) -> Pieces:
    interests, count = request["interests"], request.get("count", 5)
    order = [interests[i % len(interests)] for i in range(count)]
    return [
        (question, Expect(subject=(interest,), kind="question"))
        for question, interest in zip(body["topics"], order, strict=False)
    ]


def summary_pieces(body: dict[str, Any], request: dict[str, Any]) -> Pieces:
    """The key points and suggestions (``grammarPatterns`` are names, not sentences)."""
    said = re.sub(r"\b\w+:", " ", request["transcript"])
    content = tuple(w for w in re.findall(r"[^\W\d_]{4,}", said))
    pieces: Pieces = [(point, Expect(subject=content)) for point in body["keyPoints"]]
    learning = (*content, *GRAMMAR_TERMS, *SKILL_LABELS.values())
    pieces += [(tip, Expect(subject=learning)) for tip in body["suggestions"]]
    return pieces


def prompt_pieces(body: dict[str, Any], request: dict[str, Any]) -> Pieces:
    cues: dict[str, str] = {}
    for line in body["improvements"]:
        found = re.fullmatch(
            r"Added (composition|lighting|lens|motion|camera movement): (.*)", line
        )
        if found:
            cues[found[1].split()[0]] = found[2]
    optimized = body["optimized_prompt"]
    style = request.get("style")
    if style:
        optimized = optimized.removeprefix(f"{style.strip()} style, ")
    tail = [cues[name] for name in cues]
    if request["type"] == "video":
        tail.append(optimized.rsplit(", ", 1)[-1])  # the duration, code's
    subject = optimized.removesuffix(", " + ", ".join(tail)) if tail else optimized
    prompt_words = tuple(re.findall(r"[^\W\d_]{3,}", request["prompt"]))
    pieces: Pieces = [(subject, Expect(subject=prompt_words, kind="phrase", digits=True))]
    for name, text in cues.items():
        vocabulary = CUE_WORDS[name] + (prompt_words if name == "motion" else ())
        pieces.append(
            (text, Expect(subject=vocabulary, kind="phrase", min_words=2, digits=name == "lens"))
        )
    return pieces


ENDPOINTS: dict[str, tuple[str, list[dict[str, Any]], Callable[..., Pieces]]] = {
    "level-feedback": ("/api/llm/level-feedback", FEEDBACK_CASES, feedback_pieces),
    "conversation-topics": ("/api/llm/conversation-topics", TOPIC_CASES, topic_pieces),
    "session-summary": ("/api/llm/session-summary", SUMMARY_CASES, summary_pieces),
    "optimize-prompt": ("/api/v1/llm/optimize-prompt", PROMPT_CASES, prompt_pieces),
}


def test_cases_are_varied() -> None:
    assert sum(len(cases) for _, cases, _ in ENDPOINTS.values()) >= 20
    assert {case["level"] for case in FEEDBACK_CASES} == {"A1", "A2", "B1", "B2", "C1", "C2"}
    assert len({case.get("language", "English") for case in TOPIC_CASES}) >= 3
    lengths = sorted(len(case["transcript"]) for case in SUMMARY_CASES)
    assert lengths[0] < 400 and lengths[-1] > 3000
    assert {case["type"] for case in PROMPT_CASES} == {"image", "video"}
    assert FEEDBACK_CASES[2] == {"analysis": SEED_ANALYSIS, "level": "B1"}
    assert SUMMARY_CASES[0]["participants"] == SEED_PARTICIPANTS


@pytest.mark.timeout(600)  # 21 requests to a 135M model on 2 shared cores: about 3 minutes
def test_the_embedded_model_writes_readable_sentences(http: httpx.Client) -> None:
    tallies: dict[str, Tally] = {}
    for name, (path, cases, extract) in ENDPOINTS.items():
        tally = tallies[name] = Tally()
        for case in cases:
            started = time.perf_counter()
            response = http.post(path, json=case)
            tally.seconds += time.perf_counter() - started
            tally.requests += 1
            if response.status_code != 200:  # an answer with no wording at all
                tally.failures.append(f"{path} {case}: {response.status_code} {response.text}")
                tally.pieces += 5
                continue
            pieces = extract(response.json(), case)
            _, templates = wording_counts(response, len(pieces))
            tally.templates += templates
            earlier: list[str] = []
            for text, expect in pieces:
                found = problems(text, expect, earlier)
                earlier.append(text)
                tally.pieces += 1
                tally.passed += not found
                if found:
                    tally.failures.append(f"{name}: {text!r}: {'; '.join(found)}")
    report = {
        name: {
            "requests": t.requests,
            "seconds_per_request": round(t.seconds / t.requests, 2),
            "pieces": t.pieces,
            "passed": t.passed,
            "templates": t.templates,
            "score": round(t.score, 3),
        }
        for name, t in tallies.items()
    }
    total_pieces = sum(t.pieces for t in tallies.values())
    score = sum(t.passed - t.templates for t in tallies.values()) / total_pieces
    failures = [line for t in tallies.values() for line in t.failures]
    if os.environ.get("LLM_API_WORDING_REPORT"):
        with open(os.environ["LLM_API_WORDING_REPORT"], "w") as out:
            json.dump({"score": round(score, 3), "endpoints": report, "failures": failures}, out,
                      indent=1, ensure_ascii=False)  # fmt: skip
    assert score >= THRESHOLD, (
        f"{score:.1%} of {total_pieces} pieces are model-written and pass: "
        f"{json.dumps(report)}\n" + "\n".join(failures[:40])
    )
