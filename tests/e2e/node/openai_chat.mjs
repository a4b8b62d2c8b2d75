// The `openai` npm package's Chat Completions against the server: create, stream, a forced
// tool call, structured output (parse with a zod schema) and the typed errors.
// Usage: node openai_chat.mjs BASE_URL API_KEY [LIMITED_KEY]; prints one JSON line.
// LIMITED_KEY allows one request a minute: its second request is the 429.
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";

const [baseURL, apiKey, limitedKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const model = "llama-3.3-70b-instruct-fp8-fast"; // marked for tools and JSON in the catalog
const ask = (content) => [{ role: "user", content }];
const out = {};

async function errorOf(call) {
  try {
    await call();
    return null;
  } catch (error) {
    return {
      class: error.constructor.name,
      status: error.status ?? null,
      code: error.code ?? null,
      param: error.param ?? null,
      requestID: error.requestID ?? null,
    };
  }
}

const created = await client.chat.completions.create({
  model, messages: ask("Name two animals."), max_tokens: 16, temperature: 0,
});
out.create = {
  object: created.object,
  content: created.choices[0].message.content,
  finish: created.choices[0].finish_reason,
  completionTokens: created.usage.completion_tokens,
};

const stream = await client.chat.completions.create({
  model, messages: ask("Name two animals."), max_tokens: 16, temperature: 0,
  stream: true, stream_options: { include_usage: true },
});
const streamed = { text: "", chunks: 0, finish: null, usage: null, role: null };
for await (const chunk of stream) {
  streamed.chunks += 1;
  const choice = chunk.choices[0];
  streamed.role ??= choice?.delta?.role ?? null;
  streamed.text += choice?.delta?.content ?? "";
  streamed.finish = choice?.finish_reason ?? streamed.finish;
  if (chunk.usage) streamed.usage = chunk.usage;
}
out.stream = streamed;

const tool = await client.chat.completions.create({
  model,
  messages: ask("What is the weather in Paris?"),
  tools: [{
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather for a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string", maxLength: 12 } },
        required: ["city"],
        additionalProperties: false,
      },
    },
  }],
  tool_choice: { type: "function", function: { name: "get_weather" } },
  max_tokens: 40,
  temperature: 0,
});
const call = tool.choices[0].message.tool_calls?.[0];
out.tool = {
  finish: tool.choices[0].finish_reason,
  name: call?.function.name ?? null,
  arguments: call ? JSON.parse(call.function.arguments) : null,
  id: call?.id ?? null,
};

const parsed = await client.chat.completions.parse({
  model,
  messages: ask("Pick a colour and say whether you like it."),
  response_format: zodResponseFormat(
    z.object({ colour: z.enum(["red", "green", "blue"]), liked: z.boolean() }), "pick",
  ),
  max_tokens: 40,
  temperature: 0,
});
out.parse = { parsed: parsed.choices[0].message.parsed, finish: parsed.choices[0].finish_reason };

const bad = new OpenAI({ baseURL, apiKey: "sk-not-a-key", maxRetries: 0 });
out.errors = {
  unauthorized: await errorOf(() => bad.chat.completions.create({ model, messages: ask("x") })),
  notFound: await errorOf(() =>
    client.chat.completions.create({ model: "gpt-4o", messages: ask("x") }),
  ),
  badRequest: await errorOf(() =>
    client.chat.completions.create({ model, messages: ask("x"), n: 2 }),
  ),
};
if (limitedKey) {
  const limited = new OpenAI({ baseURL, apiKey: limitedKey, maxRetries: 0 });
  await limited.models.list();
  out.errors.rateLimited = await errorOf(() => limited.models.list());
}
console.log(JSON.stringify(out));
