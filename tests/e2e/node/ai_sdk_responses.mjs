// The AI SDK's `@ai-sdk/openai` provider (the Responses API, its default) against the server:
// generateText, streamText, and a tool call answered by its own tool loop (two steps).
// Usage: node ai_sdk_responses.mjs BASE_URL API_KEY; prints one JSON line of results.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, apiKey] = process.argv.slice(2);
const provider = createOpenAI({ baseURL, apiKey });
const model = provider.responses("llama-3.2-3b-instruct");
const options = { maxOutputTokens: 16, temperature: 0, maxRetries: 0 };

const generated = await generateText({ model, prompt: "Name two animals.", ...options });

const streamed = streamText({ model, prompt: "Name two animals.", ...options });
let deltas = 0;
for await (const _ of streamed.textStream) deltas += 1;

const weather = tool({
  description: "Current weather for a city",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => ({ city, forecast: "sunny, 21 C" }),
});
const looped = await generateText({
  model: provider.responses("llama-3.3-70b-instruct-fp8-fast"),
  prompt: "What is the weather in Paris?",
  tools: { get_weather: weather },
  toolChoice: { type: "tool", toolName: "get_weather" },
  prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { toolChoice: "none" } : {}),
  stopWhen: stepCountIs(2),
  maxOutputTokens: 40,
  temperature: 0,
  maxRetries: 0,
});
const [first] = looped.steps;

console.log(JSON.stringify({
  generated: {
    text: generated.text,
    finishReason: generated.finishReason,
    usage: generated.usage,
    responseId: generated.response?.id ?? null,
  },
  streamed: {
    text: await streamed.text,
    deltas,
    finishReason: await streamed.finishReason,
    usage: await streamed.usage,
  },
  tool: {
    steps: looped.steps.length,
    calls: first.toolCalls.map((call) => ({ name: call.toolName, input: call.input })),
    results: first.toolResults.length,
    text: looped.text,
    finishReason: looped.finishReason,
    warnings: looped.warnings ?? [],
  },
}));
