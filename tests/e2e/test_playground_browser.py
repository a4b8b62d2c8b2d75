"""The playground at `/`, in headless Chromium, against the real server and embedded model.

What a frontend developer does with it: enter a key, pick a model, watch an answer
stream in, stop one, read the errors, use a tutor tool, on a desktop and a phone.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser import screenshot_path
from tests.e2e.server import Server, create_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

DESKTOP = {"width": 1000, "height": 900}
PHONE = {"width": 390, "height": 844}
#: one entry per 5 ms timer tick in which the streaming answer had grown: a timer is a
#: separate task, so it only sees partial text if tokens arrive in separate chunks
RECORD_GROWTH = """() => {
  window.__growth = [];
  setInterval(() => {
    const turn = document.querySelector("#log .turn.assistant:last-child");
    if (!turn || !turn.classList.contains("streaming")) return;
    const length = turn.querySelector(".content").textContent.length;
    const last = window.__growth[window.__growth.length - 1];
    if (length > 0 && (!last || last.length !== length))
      window.__growth.push({ length, at: performance.now() });
  }, 5);
}"""


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base_url}/")
    yield page
    context.close()


def use_key(page: Page, key: str) -> None:
    page.get_by_label("Your API key").fill(key)
    page.get_by_role("button", name="Use this key").click()


def open_parameters(page: Page) -> None:
    if not page.locator("details.params").evaluate("(details) => details.open"):
        page.locator("details.params > summary").click()


def chat(page: Page, prompt: str, max_tokens: int, *, keyboard: bool = False) -> None:
    open_parameters(page)
    page.get_by_label("Max tokens").fill(str(max_tokens))
    message = page.get_by_label("Your message")
    message.fill(prompt)
    if keyboard:
        message.press("Control+Enter")
    else:
        page.get_by_role("button", name="Send").click()


def answer_text(page: Page) -> str:
    return page.locator("#log .turn.assistant .content").last.inner_text()


def test_page_loads_key_models_and_streams_an_answer_token_by_token(
    page: Page, api_key: str
) -> None:
    assert page.title() == "llm-api playground"
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select, textarea')]"
        ".filter((control) => !control.labels.length).map((control) => control.id)"
    )
    assert unlabelled == []
    use_key(page, api_key)
    page.get_by_text("Key accepted").wait_for()
    assert page.locator("#model option").count() >= 2
    page.get_by_label("Model").select_option("@cf/meta/llama-3.2-3b-instruct")
    info = page.locator("#model-info").inner_text()
    assert "context window 128,000 tokens" in info
    assert "tool calls: no" in info
    assert "$0.051 per million input tokens" in info
    # the key stays in this tab only
    assert page.evaluate("sessionStorage.getItem('llm-api-key')") == api_key
    assert page.evaluate("localStorage.length") == 0

    page.evaluate(RECORD_GROWTH)
    chat(page, "Write a short story about a robot learning to paint.", max_tokens=32)
    usage = page.locator("#chat-usage")
    usage.get_by_text("estimated cost").wait_for()

    growth = page.evaluate("window.__growth")
    assert len(growth) >= 2, f"the answer did not grow over time: {growth}"
    assert growth[-1]["at"] > growth[0]["at"]
    assert answer_text(page).strip()
    assert page.locator("#chat-status").inner_text().startswith("Done in")
    line = usage.inner_text()
    assert "completion = " in line and "tokens" in line
    assert "estimated cost $0.0000" in line  # at most 32 tokens at $0.34 per million
    assert "requests left this minute" in line
    page.locator("#chat").screenshot(path=screenshot_path("playground-stream"))


def test_stop_aborts_a_long_stream(page: Page, api_key: str) -> None:
    use_key(page, api_key)
    page.get_by_text("Key accepted").wait_for()
    chat(page, "Tell me a very long story about the sea.", max_tokens=4000)
    page.wait_for_function(
        "document.querySelector('#log .turn.assistant.streaming .content')?.textContent.length > 20"
    )
    page.get_by_role("button", name="Stop").click()

    status = page.locator("#chat-status")
    status.get_by_text("Stopped after").wait_for()
    stopped_at = answer_text(page)
    page.wait_for_timeout(500)
    assert answer_text(page) == stopped_at  # nothing arrives after Stop
    assert page.locator("#log .turn.assistant.stopped").count() == 1
    assert "stopped before the model finished" in page.locator("#chat-usage").inner_text()
    assert page.get_by_role("button", name="Send").is_enabled()
    assert page.get_by_role("button", name="Stop").is_disabled()
    page.locator("#chat").screenshot(path=screenshot_path("playground-stopped"))


def test_a_wrong_key_is_explained_in_plain_words(page: Page) -> None:
    use_key(page, "llmk_not_a_real_key_0000000000000000")
    refused = "Your API key was refused (401 Unauthorized)"
    page.locator("#key-status").get_by_text(refused).wait_for()
    chat(page, "Hello?", max_tokens=8)
    error = page.locator("#chat-error")
    error.get_by_text(refused).wait_for()
    assert "starts with llmk_" in error.inner_text()
    assert page.get_by_label("Your message").input_value() == "Hello?"  # given back to resend
    page.locator("#chat").screenshot(path=screenshot_path("playground-401"))


def test_an_invalid_parameter_shows_the_apis_400_message(page: Page, api_key: str) -> None:
    use_key(page, api_key)
    page.get_by_text("Key accepted").wait_for()
    open_parameters(page)
    page.get_by_label("Temperature (0–5)").fill("9")
    chat(page, "Hello?", max_tokens=8)
    page.locator("#chat-error").get_by_text(
        "The request was not accepted: temperature: Input should be less than or equal to 5."
    ).wait_for()


def test_rate_limit_says_how_long_to_wait(page: Page, server: Server | None) -> None:
    if server is None:
        pytest.skip("creates a key with a tiny limit: needs the server this suite starts")
    use_key(page, create_key(server.state_dir, "--rpm", "1", name="browser-429"))
    page.get_by_text("Key accepted").wait_for()  # the one request of this minute
    chat(page, "Hello?", max_tokens=8)
    error = page.locator("#chat-error")
    error.get_by_text("Rate limit reached (429)").wait_for()
    text = error.inner_text()
    assert "this key may send 1 requests per minute" in text
    assert re.search(r"Try again in \d+ seconds?\.", text), text


def test_optimize_prompt_panel_shows_its_structured_result(page: Page, api_key: str) -> None:
    use_key(page, api_key)
    page.get_by_text("Key accepted").wait_for()
    page.get_by_text("Prompt optimization").click()
    form = page.locator("#panel-optimize form")
    form.get_by_label("Prompt").fill("A lighthouse on a cliff")
    form.get_by_role("button", name="Optimize").click()
    form.get_by_role("heading", name="Optimized prompt").wait_for(timeout=120_000)
    optimized = form.locator(".optimized").inner_text()
    assert optimized.startswith("photorealistic style")
    assert form.locator(".result li").count() >= 1  # the improvements
    assert form.locator(".status").inner_text().startswith("Done in")
    form.scroll_into_view_if_needed()
    page.locator("#panel-optimize").screenshot(path=screenshot_path("playground-optimize"))


def test_phone_width_layout_has_no_sideways_scrolling(
    browser: Browser, base_url: str, api_key: str
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/")
        use_key(page, api_key)
        page.get_by_text("Key accepted").wait_for()
        chat(page, "Say hello in French.", max_tokens=16, keyboard=True)
        page.locator("#chat-usage").get_by_text("estimated cost").wait_for(timeout=60_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"
        page.screenshot(path=screenshot_path("playground-phone"), full_page=True)
    finally:
        context.close()


#: answers in each tutor endpoint's documented shape, to check how the page shows them
#: without waiting minutes for the small model (test_tutor_e2e.py covers the real ones)
CANNED: dict[str, dict[str, Any]] = {
    "/api/llm/level-feedback": {
        "feedback": "Overall Assessment:\nSolid B1 work.\n\nStrengths:\n- Task achievement "
        "(80/100): clear answers.\n\nNext Steps to B2:\nRead a short article every day."
    },
    "/api/llm/conversation-topics": {
        "topics": ["Where would you travel next, and why?", "What dish do you cook best?"]
    },
    "/api/llm/session-summary": {
        "keyPoints": ["The student described a weekend market visit"],
        "vocabularyUsed": ["market", "vegetables", "delicious"],
        "grammarPatterns": ["Irregular past tense: went, bought"],
        "speakingTime": {"Teacher": 45, "Student": 55},
        "suggestions": ["Practise irregular verbs"],
        "overallRating": 7,
    },
}


def test_tutor_panels_show_each_structured_result_on_a_phone(
    browser: Browser, base_url: str, api_key: str
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)

    def answer(route: Route) -> None:
        path = route.request.url.removeprefix(base_url)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(CANNED[path]))

    try:
        page = context.new_page()
        for path in CANNED:
            page.route(f"{base_url}{path}", answer)
        page.goto(f"{base_url}/")
        use_key(page, api_key)
        page.get_by_text("Key accepted").wait_for()
        for panel, button in [
            ("#panel-feedback", "Get feedback"),
            ("#panel-topics", "Suggest topics"),
            ("#panel-summary", "Summarise"),
        ]:
            page.locator(f"{panel} > summary").click()
            page.locator(panel).get_by_role("button", name=button).click()
            page.locator(f"{panel} .result").wait_for()
        feedback = page.locator("#panel-feedback .result")
        assert feedback.locator("p.section").all_inner_texts() == [
            "Overall Assessment:",
            "Strengths:",
            "Next Steps to B2:",
        ]
        topics = page.locator("#panel-topics .result ol li").all_inner_texts()
        assert topics == CANNED["/api/llm/conversation-topics"]["topics"]
        summary = page.locator("#panel-summary .result")
        assert summary.get_by_role("heading", name="Overall rating: 7 / 10").is_visible()
        vocabulary = summary.locator(".chips li").all_inner_texts()
        assert vocabulary == ["market", "vegetables", "delicious"]
        assert summary.locator(".shares dt").all_inner_texts() == ["Teacher", "Student"]
        assert "55%" in summary.locator(".shares").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"
        page.locator("main > section").last.screenshot(
            path=screenshot_path("playground-tutor-phone")
        )
    finally:
        context.close()
