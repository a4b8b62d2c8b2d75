// The official `openai` npm package's Responses API against the server: create, stream,
// a function-tool round trip with previous_response_id, retrieve and delete.
// Usage: node openai_responses.mjs BASE_URL API_KEY; prints one JSON line of results.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const base = { model: "llama-3.2-3b-instruct", max_output_tokens: 16, temperature: 0 };

const created = await client.responses.create({ ...base, input: "Name two animals." });

const stream = await client.responses.create({ ...base, input: "Name two animals.", stream: true });
let streamed = "";
const types = [];
const sequence = [];
let final = null;
for await (const event of stream) {
  types.push(event.type);
  sequence.push(event.sequence_number);
  if (event.type === "response.output_text.delta") streamed += event.delta;
  if (event.type === "response.completed" || event.type === "response.incomplete") final = event.response;
}

const tools = [{
  type: "function",
  name: "get_weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const asked = await client.responses.create({
  model: "llama-3.3-70b-instruct-fp8-fast",
  input: "What is the weather in Paris?",
  tools,
  tool_choice: { type: "function", name: "get_weather" },
  max_output_tokens: 40,
  temperature: 0,
});
const call = asked.output.find((item) => item.type === "function_call");
const answered = await client.responses.create({
  model: "llama-3.3-70b-instruct-fp8-fast",
  previous_response_id: asked.id,
  input: [{ type: "function_call_output", call_id: call.call_id, output: "Sunny, 21 C" }],
  tools,
  max_output_tokens: 24,
  temperature: 0,
});
const retrieved = await client.responses.retrieve(answered.id);
await client.responses.delete(answered.id);
let afterDelete = null;
try {
  await client.responses.retrieve(answered.id);
} catch (error) {
  afterDelete = error.status;
}

console.log(JSON.stringify({
  created: { id: created.id, text: created.output_text, status: created.status, usage: created.usage },
  streamed,
  streamedFinal: final?.output?.[0]?.content?.[0]?.text ?? null,
  types,
  sequence,
  call: call ? { name: call.name, arguments: call.arguments, call_id: call.call_id } : null,
  answered: { text: answered.output_text, previous: answered.previous_response_id },
  retrieved: retrieved.id === answered.id,
  afterDelete,
}));
