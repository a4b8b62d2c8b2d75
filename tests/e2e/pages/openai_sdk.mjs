// Bundled for the browser at test time (esbuild, into a temporary folder): the `openai` npm
// package in a page, calling the API on another origin. The page calls window.runSdk.
import OpenAI from "openai";

async function runSdk(baseURL, apiKey) {
  const clientFor = (key) =>
    new OpenAI({ baseURL, apiKey: key, maxRetries: 0, dangerouslyAllowBrowser: true });
  const client = clientFor(apiKey);
  const request = {
    model: "llama-3.2-3b-instruct",
    messages: [{ role: "user", content: "Name two animals." }],
    max_tokens: 12,
    temperature: 0,
  };
  const out = { origin: location.origin };
  try {
    const { data, response, request_id } = await client.chat.completions
      .create(request)
      .withResponse();
    out.create = {
      content: data.choices[0].message.content,
      finish: data.choices[0].finish_reason,
      requestId: request_id,
      remaining: response.headers.get("x-ratelimit-remaining-requests"),
    };
    const stream = await client.chat.completions.create({ ...request, stream: true });
    out.stream = { text: "", chunks: 0 };
    for await (const chunk of stream) {
      out.stream.chunks += 1;
      out.stream.text += chunk.choices[0]?.delta?.content ?? "";
    }
    try {
      await clientFor("sk-not-a-key").chat.completions.create(request);
    } catch (error) {
      const { status, requestID } = error;
      out.unauthorized = { class: error.constructor.name, status, requestId: requestID };
    }
  } catch (error) {
    out.error = `${error.constructor.name}: ${error.message}`;
  }
  return out;
}

window.runSdk = runSdk;
