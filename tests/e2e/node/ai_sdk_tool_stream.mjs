// The AI SDK's streamText with a tool, through @ai-sdk/openai-compatible: prints one JSON line
// with the stream part types seen in order (deduplicated runs) and the tool call's input.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { jsonSchema, streamText, tool } from "ai";

const [baseURL, apiKey] = process.argv.slice(2);
const provider = createOpenAICompatible({ name: "llm-api", baseURL, apiKey });
const result = streamText({
  model: provider("llama-3.3-70b-instruct-fp8-fast"),
  prompt: "Save a note about the history of Paris.",
  temperature: 0,
  maxOutputTokens: 400,
  toolChoice: "required",
  tools: {
    save_note: tool({
      description: "Save a note.",
      inputSchema: jsonSchema({
        type: "object",
        properties: { text: { type: "string", minLength: 400, maxLength: 480 } },
        required: ["text"],
      }),
    }),
  },
});
const kinds = [];
let deltas = 0;
let input = null;
for await (const part of result.fullStream) {
  if (kinds[kinds.length - 1] !== part.type) kinds.push(part.type);
  if (part.type === "tool-input-delta") deltas += 1;
  if (part.type === "tool-call") input = part.input;
  if (part.type === "error") throw part.error;
}
console.log(JSON.stringify({ kinds, deltas, input }));
