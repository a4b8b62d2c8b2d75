// The official `openai` npm package against the server: a create and a stream.
// Usage: node openai_client.mjs BASE_URL [API_KEY]; prints one JSON line of results.
import OpenAI from "openai";

const [baseURL, apiKey = "unused"] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const request = {
  model: "llama-3.2-3b-instruct",
  messages: [{ role: "user", content: "Name two animals." }],
  max_tokens: 20,
  temperature: 0,
};

const created = await client.chat.completions.create(request);
const stream = await client.chat.completions.create({
  ...request,
  stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let chunks = 0;
let usage = null;
const ids = new Set();
for await (const chunk of stream) {
  chunks += 1;
  ids.add(chunk.id);
  streamed += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
console.log(
  JSON.stringify({
    created: created.choices[0].message.content,
    finish: created.choices[0].finish_reason,
    streamed,
    chunks,
    ids: ids.size,
    usage,
  }),
);
