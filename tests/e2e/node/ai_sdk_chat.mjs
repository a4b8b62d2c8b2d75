// The AI SDK (`ai` with `@ai-sdk/openai-compatible`) against the server's Chat Completions:
// generateText, streamText, a forced tool call, generateObject with a zod schema, and errors.
// Usage: node ai_sdk_chat.mjs BASE_URL API_KEY [LIMITED_KEY]; prints one JSON line.
// LIMITED_KEY allows one request a minute: its second request is the 429.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { APICallError, generateObject, generateText, Output, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, apiKey, limitedKey] = process.argv.slice(2);
globalThis.AI_SDK_LOG_WARNINGS = false; // keep stderr for real failures
const provider = (key) =>
  createOpenAICompatible({
    name: "llm-api", baseURL, apiKey: key, includeUsage: true, supportsStructuredOutputs: true,
  });
const MODEL = "llama-3.3-70b-instruct-fp8-fast"; // marked for tools and JSON in the catalog
const model = provider(apiKey)(MODEL);
const settings = { maxRetries: 0, temperature: 0, maxOutputTokens: 16 };
const out = {};

async function errorOf(call) {
  try {
    await call();
    return null;
  } catch (error) {
    return {
      class: error.constructor.name,
      apiCallError: APICallError.isInstance(error),
      status: error.statusCode ?? null,
      retryable: error.isRetryable ?? null,
      message: error.message,
      param: error.data?.error?.param ?? null,
    };
  }
}

const generated = await generateText({ ...settings, model, prompt: "Name two animals." });
out.generate = {
  text: generated.text,
  finish: generated.finishReason,
  outputTokens: generated.usage.outputTokens,
};

const streamed = streamText({ ...settings, model, prompt: "Name two animals." });
let parts = 0;
let text = "";
for await (const delta of streamed.textStream) {
  parts += 1;
  text += delta;
}
out.stream = {
  text,
  parts,
  finish: await streamed.finishReason,
  outputTokens: (await streamed.usage).outputTokens,
};

const weather = tool({
  description: "Current weather for a city",
  inputSchema: z.object({ city: z.string().max(12) }),
});
const called = await generateText({
  ...settings,
  maxOutputTokens: 40,
  model,
  prompt: "What is the weather in Paris?",
  tools: { get_weather: weather },
  toolChoice: { type: "tool", toolName: "get_weather" },
});
out.tool = {
  finish: called.finishReason,
  calls: called.toolCalls.map((call) => ({
    name: call.toolName, input: call.input, id: call.toolCallId,
  })),
};

const colour = z.object({ colour: z.enum(["red", "green", "blue"]), liked: z.boolean() });
const pick = "Pick a colour and say whether you like it.";
const streamedCall = streamText({
  ...settings,
  maxOutputTokens: 40,
  model,
  prompt: "What is the weather in Paris?",
  tools: { get_weather: weather },
  toolChoice: { type: "tool", toolName: "get_weather" },
});
const types = {};
for await (const part of streamedCall.fullStream) types[part.type] = (types[part.type] ?? 0) + 1;
out.streamedTool = {
  finish: await streamedCall.finishReason,
  calls: (await streamedCall.toolCalls).map((call) => ({ name: call.toolName, input: call.input })),
  types,
};

const object = await generateObject({
  ...settings, maxOutputTokens: 40, model, schema: colour, prompt: pick,
});
out.object = { object: object.object, finish: object.finishReason };
// AI SDK 7 deprecates generateObject for this form
const output = await generateText({
  ...settings, maxOutputTokens: 40, model, output: Output.object({ schema: colour }), prompt: pick,
});
out.output = { object: output.output, finish: output.finishReason };

const ask = (m, extra = {}) => generateText({ ...settings, model: m, prompt: "x", ...extra });
out.errors = {
  unauthorized: await errorOf(() => ask(provider("sk-not-a-key")(MODEL))),
  notFound: await errorOf(() => ask(provider(apiKey)("gpt-4o"))),
  badRequest: await errorOf(() => ask(model, { temperature: 9 })),
};
if (limitedKey) {
  const limited = provider(limitedKey)(MODEL);
  await generateText({ ...settings, maxOutputTokens: 1, model: limited, prompt: "x" });
  out.errors.rateLimited = await errorOf(() => ask(limited));
}
console.log(JSON.stringify(out));
