// Bundled for the browser at test time (esbuild, into a temporary folder): the AI SDK with
// `@ai-sdk/openai-compatible` in a page, calling the API on another origin (window.runSdk).
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, streamText } from "ai";

async function runSdk(baseURL, apiKey) {
  // Chromium drops the SDK's `user-agent` suffix (Firefox asks a preflight for it), so a
  // custom header, as apps add with `headers`, is what makes this page need the preflight.
  const provider = createOpenAICompatible({
    name: "llm-api", baseURL, apiKey, includeUsage: true, headers: { "x-app-name": "sdk-page" },
  });
  const settings = {
    model: provider("llama-3.2-3b-instruct"),
    prompt: "Name two animals.",
    maxOutputTokens: 12,
    temperature: 0,
    maxRetries: 0,
  };
  const out = { origin: location.origin };
  try {
    const generated = await generateText(settings);
    out.generate = {
      text: generated.text,
      finish: generated.finishReason,
      requestId: generated.response.headers?.["x-request-id"] ?? null,
    };
    const streamed = streamText(settings);
    out.stream = { text: "", parts: 0 };
    for await (const delta of streamed.textStream) {
      out.stream.parts += 1;
      out.stream.text += delta;
    }
    out.stream.outputTokens = (await streamed.usage).outputTokens;
  } catch (error) {
    out.error = `${error.constructor.name}: ${error.message}`;
  }
  return out;
}

window.runSdk = runSdk;
