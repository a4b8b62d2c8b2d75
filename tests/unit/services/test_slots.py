"""Slot-by-slot wording (issue 17): which models, the grammar, the retry and the fallback."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from llm_api.catalog import EMBEDDED_MODEL, TABLE, Catalog, resolve_model
from llm_api.platform.embedded.grammar import response_format_gbnf
from llm_api.schemas.v1 import OptimizePromptRequest
from llm_api.services.generation import Caller
from llm_api.services.prompts import cue_slots
from llm_api.services.slots import Slot, Wording, by_slot, pattern, writes
from llm_api.services.wording_check import Expect
from tests.support.scripted_ai import ScriptedAI

SCOUT = resolve_model("llama-4-scout-17b-16e-instruct")
SLOT = Slot(
    task="Write one sentence praising the learner's grammar.",
    lead="Your grammar",
    expect=Expect(subject=("grammar",)),
    fallback="Your grammar is accurate, so your meaning comes across clearly.",
)


def test_the_embedded_model_is_asked_slot_by_slot_as_the_catalog_says() -> None:
    embedded = Caller(ScriptedAI(), catalog=Catalog(TABLE, answered_by=EMBEDDED_MODEL))
    workers = Caller(ScriptedAI(), catalog=Catalog(TABLE))
    assert embedded.catalog.writer(SCOUT) is EMBEDDED_MODEL
    assert by_slot(embedded, SCOUT)
    assert not by_slot(workers, SCOUT)  # a capable model: one structured request
    assert by_slot(workers, resolve_model("llama-3.2-1b-instruct"))  # small on Workers AI too
    assert writes(embedded, SCOUT, "english") and writes(embedded, SCOUT, "en")
    assert not writes(embedded, SCOUT, "Spanish")
    assert writes(workers, SCOUT, "Spanish")
    assert EMBEDDED_MODEL not in TABLE  # never listed as a Workers AI model


@pytest.mark.parametrize(
    ("kind", "lead", "text", "ok"),
    [
        ("sentence", "Your grammar", "Your grammar is strong and it shows.", True),
        ("sentence", "Your grammar", "Your grammar is strong, and it shows.", False),
        ("sentence", "Your grammar", "Your grammar is at ninety percent!", True),
        ("sentence", "Your grammar", "Your grammar is 90% right.", False),
        ("sentence", "Your grammar", "Your grammar: strong.", False),
        ("sentence", "Your grammar", "Your grammar is strong. It is.", False),
        ("sentence", "", "strengths: grammar.", False),
        ("sentence", "", 'You write {"overall"} well.', False),
        ("question", "", "What do you like about travel?", True),
        ("question", "", "Tell me about travel.", False),
    ],
)
def test_the_grammar_allows_one_plain_line(kind, lead, text, ok) -> None:
    regex = pattern(kind, lead=lead)
    assert bool(re.fullmatch(regex.strip("^$"), text)) is ok
    # the same pattern as a JSON schema becomes the embedded model's grammar
    gbnf = response_format_gbnf(
        {"type": "json_schema", "json_schema": {"type": "string", "pattern": regex}}
    )
    assert gbnf and "root" in gbnf


def write(ai: ScriptedAI) -> tuple[str, Wording]:
    wording = Wording(Caller(ai), SCOUT)
    return asyncio.run(wording.write(SLOT)), wording


def test_a_good_first_answer_is_kept_greedy() -> None:
    ai = ScriptedAI()
    ai.script(text=json.dumps("Your grammar is accurate in long sentences."))
    text, wording = write(ai)
    assert text == "Your grammar is accurate in long sentences."
    assert wording.header == "model=1,template=0"
    inputs = ai.calls[0]["inputs"]
    assert inputs["temperature"] == 0.0  # greedy: the same facts, the same sentence
    schema = inputs["response_format"]["json_schema"]
    assert schema["type"] == "string" and schema["pattern"].startswith("^Your grammar ")


def test_a_failing_sentence_is_retried_once_sampled() -> None:
    ai = ScriptedAI()
    ai.script(text=json.dumps("Your grammar grammar grammar grammar grammar."))
    ai.script(text=json.dumps("Your grammar is clear and accurate."))
    text, wording = write(ai)
    assert text == "Your grammar is clear and accurate."
    assert wording.header == "model=1,template=0"
    retry = ai.calls[1]["inputs"]
    assert retry["temperature"] > 0 and retry["seed"] == 17  # sampled, yet reproducible


def test_a_sentence_failing_twice_is_replaced_by_code_and_counted() -> None:
    ai = ScriptedAI()
    ai.script(text=json.dumps("strengths: grammar."))
    ai.script(text="not JSON at all")
    text, wording = write(ai)
    assert text == SLOT.fallback
    assert wording.header == "model=0,template=1"
    assert len(ai.calls) == 2


def test_a_sentence_cut_at_the_length_bound_is_not_kept() -> None:
    ai = ScriptedAI()
    ai.script(text=json.dumps("Your grammar " + "is very good and " * 20 + "x."))
    ai.script(text=json.dumps("Your grammar is good today."))
    text, _ = write(ai)
    assert text == "Your grammar is good today."


def test_a_prompt_with_quotes_is_never_a_lead_inside_the_json_string() -> None:
    plain = cue_slots(OptimizePromptRequest(prompt="a red fox", type="image"))["subject"]
    quoted = cue_slots(OptimizePromptRequest(prompt='a "red" fox \\ x', type="image"))["subject"]
    assert plain.lead == "a red fox,"
    assert quoted.lead == ""


def test_an_interest_with_a_quote_never_leads_inside_the_json_string() -> None:
    assert pattern("question", lead='When it comes to "x", what').startswith("^[")
    assert pattern("question", lead="When it comes to x, what").startswith("^When it comes")
