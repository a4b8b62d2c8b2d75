// The llm-api playground: plain JavaScript, no build step, no dependencies.
// It calls the API of the origin that served it, with the key from this tab's
// sessionStorage, exactly as a frontend would.
"use strict";

const KEY_STORAGE = "llm-api-key";
const LEVELS = ["A1", "A2", "B1", "B2", "C1", "C2"];
const PREFERRED_MODEL = "@cf/meta/llama-3.2-3b-instruct"; // picked first: small and cheap (the API's own default is in README "Models")

const $ = (selector, root = document) => root.querySelector(selector);

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  models: new Map(), // id -> model card from /api/llm/models
  history: [], // the conversation sent with each chat request
  controller: null, // AbortController of the stream in flight
};

// ---------------------------------------------------------------- API calls

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

function authHeaders() {
  return { authorization: `Bearer ${state.key}`, "content-type": "application/json" };
}

async function api(path, { method = "GET", body, signal } = {}) {
  if (!state.key) throw new ApiError("Enter your API key first (step 1).", 0);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: authHeaders(),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`Could not reach the API (${error.message}). Is the server running?`, 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

async function errorFrom(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // not JSON: keep the status alone
  }
  return new ApiError(describeError(response.status, messageOf(payload), response.headers), response.status);
}

// The three families' envelopes: {"error": "msg"}, {"error": {"message", ...}}, FastAPI's {"detail"}.
function messageOf(payload) {
  if (!payload) return "";
  const error = payload.error ?? payload.detail;
  if (typeof error === "string") return error;
  if (error && typeof error.message === "string") return error.message;
  return "";
}

function describeError(status, message, headers) {
  const said = message ? ` The server said: “${message}”` : "";
  const retry = Number.parseFloat(headers.get("retry-after"));
  const wait = Number.isFinite(retry) ? ` Try again in ${seconds(retry)}.` : " Try again shortly.";
  const requestId = headers.get("x-request-id");
  const reference = requestId ? ` (request id ${requestId})` : "";
  switch (status) {
    case 400:
    case 422:
      return `The request was not accepted: ${message || "an invalid field"}.`.replace(/\.\.$/, ".");
    case 401:
      return "Your API key was refused (401 Unauthorized). Check that you pasted the whole key " +
        "(it starts with llmk_) and that it has not been revoked.";
    case 403:
      return `This key may not do that (403 Forbidden).${said}`;
    case 404:
      return `Not found (404).${said}`;
    case 413:
      return `The request is too large (413).${said}`;
    case 429: {
      const limit = headers.get("x-ratelimit-limit-requests");
      const per = limit ? `this key may send ${limit} requests per minute` : "this key is sending too fast";
      return `Rate limit reached (429): ${per}.${wait}`;
    }
    case 502:
      return `The model's answer could not be used (502).${said} Trying again often works.`;
    case 503:
      return `The model is busy or unavailable (503).${wait}`;
    case 504:
      return "The model took too long to answer (504). Try again, perhaps with fewer max tokens.";
    default:
      return status >= 500
        ? `The server failed (${status})${reference}.${said}`
        : `The request failed (${status}).${said}`;
  }
}

function seconds(value) {
  const rounded = Math.max(1, Math.ceil(value));
  return rounded === 1 ? "1 second" : `${rounded} seconds`;
}

// Server-sent events from a fetch body: yields each event's data, as the spec joins it.
async function* sseData(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") data.push(value);
        }
      }
      if (done) break;
    }
    if (data.length) yield data.join("\n");
  } finally {
    reader.releaseLock();
  }
}

// --------------------------------------------------------------- formatting

const integer = new Intl.NumberFormat("en-US");

function money(usd) {
  if (usd === 0) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(6)}`;
  return `$${usd.toFixed(4)}`;
}

function quotaText(headers) {
  const remaining = headers.get("x-ratelimit-remaining-requests");
  const limit = headers.get("x-ratelimit-limit-requests");
  if (remaining === null || limit === null) return "";
  const reset = Number.parseFloat(headers.get("x-ratelimit-reset-requests")); // OpenAI's "12s"
  const full = Number.isFinite(reset) && reset > 0 ? ` (full again in ${seconds(reset)})` : "";
  return `${remaining} of ${limit} requests left this minute${full}`;
}

function setMessage(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

// ------------------------------------------------------------------ the key

const keyInput = $("#api-key");
const keyStatus = $("#key-status");

function useKey(key) {
  state.key = key.trim();
  if (state.key) sessionStorage.setItem(KEY_STORAGE, state.key);
  else sessionStorage.removeItem(KEY_STORAGE);
  loadModels();
}

$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  useKey(keyInput.value);
});

$("#forget-key").addEventListener("click", () => {
  keyInput.value = "";
  useKey("");
  keyInput.focus();
});

// ----------------------------------------------------------------- models

const modelSelect = $("#model");
const modelInfo = $("#model-info");

async function loadModels() {
  state.models.clear();
  modelSelect.replaceChildren(new Option(state.key ? "Loading models…" : "Enter your key to load the models", ""));
  modelInfo.textContent = "";
  if (!state.key) {
    keyStatus.textContent = "No key: enter one to start.";
    keyStatus.className = "status";
    return;
  }
  keyStatus.textContent = "Checking the key…";
  keyStatus.className = "status";
  try {
    const response = await api("/api/llm/models");
    const { models } = await response.json();
    modelSelect.replaceChildren();
    for (const model of models) {
      state.models.set(model.id, model);
      modelSelect.append(new Option(model.name, model.id));
    }
    if (state.models.has(PREFERRED_MODEL)) modelSelect.value = PREFERRED_MODEL;
    showModelInfo();
    keyStatus.textContent = `Key accepted: ${models.length} models available. ${quotaText(response.headers)}`;
    keyStatus.className = "status ok";
  } catch (error) {
    modelSelect.replaceChildren(new Option("No models: the key was not accepted", ""));
    keyStatus.textContent = error.message;
    keyStatus.className = "status error";
  }
}

function showModelInfo() {
  const model = state.models.get(modelSelect.value);
  modelInfo.textContent = model
    ? `${model.id} · context window ${integer.format(model.contextWindow)} tokens · ` +
      `tool calls: ${model.supportsTools ? "yes" : "no"} · ` +
      `$${model.costPerMInput} per million input tokens, $${model.costPerMOutput} per million output tokens`
    : "";
}

modelSelect.addEventListener("change", showModelInfo);

// ------------------------------------------------------------------- chat

const chatForm = $("#chat-form");
const log = $("#log");
const promptInput = $("#prompt");
const sendButton = $("#send");
const stopButton = $("#stop");
const chatStatus = $("#chat-status");
const chatError = $("#chat-error");
const chatUsage = $("#chat-usage");

function numberField(name) {
  const input = chatForm.elements[name];
  return input.value === "" ? undefined : Number(input.value);
}

function chatBody(messages) {
  const body = {
    messages,
    stream: true,
    max_tokens: numberField("max_tokens"),
    temperature: numberField("temperature"),
    top_p: numberField("top_p"),
    top_k: numberField("top_k"),
    repetition_penalty: numberField("repetition_penalty"),
    seed: numberField("seed"),
  };
  if (modelSelect.value) body.model = modelSelect.value;
  return body;
}

const logEmpty = $("#log-empty");

function showEmptyLog() {
  if (!log.querySelector(".turn")) log.replaceChildren(logEmpty);
}

function addTurn(role, text) {
  logEmpty.remove();
  const turn = document.createElement("div");
  turn.className = `turn ${role}`;
  const who = document.createElement("p");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "Model";
  const content = document.createElement("p");
  content.className = "content";
  content.textContent = text;
  turn.append(who, content);
  log.append(turn);
  log.scrollTop = log.scrollHeight;
  return turn;
}

function setStreaming(on) {
  // keyboard users keep their place: Send hands focus to Stop, Stop back to the message
  const focused = document.activeElement;
  stopButton.disabled = !on;
  if (on && focused === sendButton) stopButton.focus();
  if (!on && (focused === stopButton || focused === document.body)) promptInput.focus();
  sendButton.disabled = on;
  log.setAttribute("aria-busy", String(on));
}

async function sendChat() {
  const text = promptInput.value.trim();
  setMessage(chatError, "");
  if (!text) {
    setMessage(chatError, "Write a message first.");
    promptInput.focus();
    return;
  }
  if (!state.key) {
    setMessage(chatError, "Enter your API key first (step 1).");
    keyInput.focus();
    return;
  }
  const system = chatForm.elements.system.value.trim();
  const history = state.history; // "New conversation" during the stream starts a new one
  const messages = [
    ...(system ? [{ role: "system", content: system }] : []),
    ...history,
    { role: "user", content: text },
  ];
  const model = state.models.get(modelSelect.value);
  const userTurn = addTurn("user", text);
  promptInput.value = "";
  const turn = addTurn("assistant", "");
  turn.classList.add("streaming");
  const content = $(".content", turn);
  let answer = "";
  let usage = null;
  let chunks = 0;
  let quota = "";
  const started = performance.now();
  state.controller = new AbortController();
  setStreaming(true);
  chatStatus.textContent = "Waiting for the model…";
  chatUsage.textContent = "";
  try {
    const response = await api("/api/llm/chat/completions", {
      method: "POST",
      body: chatBody(messages),
      signal: state.controller.signal,
    });
    quota = quotaText(response.headers);
    chatStatus.textContent = "Receiving the answer…";
    for await (const data of sseData(response.body)) {
      if (data === "[DONE]") break;
      const event = JSON.parse(data);
      if (event.error) throw new ApiError(`The answer broke off: ${event.error}`, 0);
      if (event.response) {
        content.append(event.response);
        answer += event.response;
        chunks += 1;
        log.scrollTop = log.scrollHeight;
      }
      if (event.usage) usage = event.usage;
    }
    const elapsed = (performance.now() - started) / 1000;
    chatStatus.textContent = `Done in ${elapsed.toFixed(1)} s.`;
    chatUsage.textContent = usageText(usage, model, quota);
  } catch (error) {
    if (error.name === "AbortError") {
      turn.classList.add("stopped");
      chatStatus.textContent = `Stopped after ${chunks} tokens.`;
      chatUsage.textContent = ["No usage: the stream was stopped before the model finished.", quota]
        .filter(Boolean)
        .join(" · ");
    } else {
      turn.classList.add("failed");
      chatStatus.textContent = "";
      setMessage(chatError, error.message);
    }
  } finally {
    turn.classList.remove("streaming");
    state.controller = null;
    setStreaming(false);
  }
  if (answer) {
    history.push({ role: "user", content: text }, { role: "assistant", content: answer });
  } else if (turn.classList.contains("stopped")) {
    content.textContent = "(stopped before the first token)";
  } else {
    userTurn.remove(); // nothing came back: give the message back to edit and resend
    turn.remove();
    showEmptyLog();
    promptInput.value = text;
  }
}

function usageText(usage, model, quota) {
  const parts = [];
  if (usage) {
    parts.push(
      `${integer.format(usage.prompt_tokens)} prompt + ${integer.format(usage.completion_tokens)} ` +
        `completion = ${integer.format(usage.total_tokens)} tokens`,
    );
    if (model) {
      const cost = (usage.prompt_tokens * model.costPerMInput + usage.completion_tokens * model.costPerMOutput) / 1e6;
      parts.push(`estimated cost ${money(cost)}`);
    }
  } else {
    parts.push("No usage reported");
  }
  if (quota) parts.push(quota);
  return parts.join(" · ");
}

function stopChat() {
  state.controller?.abort();
}

chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!state.controller) sendChat();
});
stopButton.addEventListener("click", stopChat);
promptInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    chatForm.requestSubmit();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.controller) stopChat();
});
$("#clear").addEventListener("click", () => {
  stopChat();
  state.history = [];
  log.replaceChildren(logEmpty);
  chatStatus.textContent = "New conversation.";
  chatUsage.textContent = "";
  setMessage(chatError, "");
  promptInput.focus();
});

// ------------------------------------------------------------ tutor tools

const list = (value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

const TOOLS = {
  "level-feedback": {
    path: "/api/llm/level-feedback",
    body: (f) => ({
      analysis: Object.fromEntries(
        ["grammar", "vocabulary", "fluency", "pronunciation", "taskAchievement", "interaction"].map((name) => [
          name,
          Number(f.elements[name].value),
        ]),
      ),
      level: f.elements.level.value,
    }),
    render: (result) => [feedbackText(result.feedback)],
  },
  "conversation-topics": {
    path: "/api/llm/conversation-topics",
    body: (f) => ({
      level: f.elements.level.value,
      interests: list(f.elements.interests.value),
      language: f.elements.language.value.trim(),
      count: Number(f.elements.count.value),
    }),
    render: (result) => [heading("Topics"), listOf(result.topics, "ol")],
  },
  "session-summary": {
    path: "/api/llm/session-summary",
    body: (f) => ({
      transcript: f.elements.transcript.value,
      duration: Number(f.elements.duration.value),
      participants: list(f.elements.participants.value),
    }),
    render: (result) => [
      heading(`Overall rating: ${result.overallRating} / 10`),
      heading("Key points"),
      listOf(result.keyPoints),
      heading("Vocabulary used"),
      chips(result.vocabularyUsed),
      heading("Grammar patterns"),
      listOf(result.grammarPatterns),
      heading("Speaking time"),
      speakingTime(result.speakingTime),
      heading("Suggestions"),
      listOf(result.suggestions),
    ],
  },
  "optimize-prompt": {
    path: "/api/v1/llm/optimize-prompt",
    body: (f) => {
      const body = {
        prompt: f.elements.prompt.value.trim(),
        type: f.elements.type.value,
        enhance_details: f.elements.enhance_details.checked,
      };
      const style = f.elements.style.value.trim();
      if (style) body.style = style;
      return body;
    },
    render: (result) => [
      heading("Optimized prompt"),
      paragraph(result.optimized_prompt, "optimized"),
      heading("Improvements"),
      listOf(result.improvements),
    ],
  },
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const heading = (text) => element("h3", "", text);
const paragraph = (text, className = "") => element("p", className, text);

function listOf(items, tag = "ul") {
  const node = element(tag);
  for (const item of items || []) node.append(element("li", "", item));
  if (!node.children.length) return paragraph("(none)", "hint");
  return node;
}

function chips(items) {
  const node = element("ul", "chips");
  for (const item of items || []) node.append(element("li", "", item));
  return node.children.length ? node : paragraph("(none)", "hint");
}

function speakingTime(shares) {
  const table = element("dl", "shares");
  for (const [name, percent] of Object.entries(shares || {})) {
    const bar = element("span", "bar");
    bar.style.width = `${Math.max(0, Math.min(100, percent))}%`;
    const value = element("dd");
    value.append(bar, element("span", "", `${percent}%`));
    table.append(element("dt", "", name), value);
  }
  return table;
}

// The feedback is plain text in sections ("Strengths:") with bullets: keep its lines.
function feedbackText(text) {
  const block = element("div", "feedback");
  for (const line of (text || "").split("\n")) {
    const isHeading = /^[A-Z][^:\n]{2,60}:$/.test(line.trim());
    block.append(element("p", isHeading ? "section" : "", line));
  }
  return block;
}

for (const select of document.querySelectorAll("select[data-levels]")) {
  for (const level of LEVELS) select.append(new Option(level, level));
  select.value = select.dataset.levels;
}

for (const form of document.querySelectorAll("form[data-tool]")) {
  const tool = TOOLS[form.dataset.tool];
  const status = $(".status", form);
  const error = $(".error", form);
  const result = $(".result", form);
  const button = $("button[type=submit]", form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage(error, "");
    result.replaceChildren();
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    status.textContent = "Asking the model…";
    const started = performance.now();
    try {
      const response = await api(tool.path, { method: "POST", body: tool.body(form) });
      const payload = await response.json();
      result.replaceChildren(...tool.render(payload));
      const elapsed = ((performance.now() - started) / 1000).toFixed(1);
      status.textContent = [`Done in ${elapsed} s.`, quotaText(response.headers)].filter(Boolean).join(" · ");
    } catch (caught) {
      status.textContent = "";
      setMessage(error, caught.message);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}

// ------------------------------------------------------------------ start

keyInput.value = state.key;
if (state.key) loadModels();
