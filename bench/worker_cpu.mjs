// CPU per request of the Worker under real Pyodide (the figure Workers bills), next to a
// bare Python Worker and a bare FastAPI app in the same process and run:
//
//   node_modules/.bin/node --disable-warning=ExperimentalWarning bench/worker_cpu.mjs \
//     [--requests 200] [--batches 7] [--src DIR] [--before DIR] [--profile CASE] [--json FILE]
//
// Each case calls Default.fetch in a loop (no HTTP: the harness's runtime.mjs, as workerd
// would), reads the whole body and waits for waitUntil work; process.cpuUsage() around each
// batch; the cheapest batch is reported (noise only adds). The app's AI answers at once
// (the scripted whole answer, or a stream of N short events). Needs .worker-wheels
// (`make .worker-wheels/.installed`). --profile CASE prints a cProfile summary of that case
// taken inside Pyodide (--profile-sort cumulative, --profile-filter llm_api to narrow it).
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { startWorker } from "../tests/worker/harness/runtime.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
  options: {
    requests: { type: "string", default: "200" },
    batches: { type: "string", default: "7" },
    profile: { type: "string" },
    "profile-sort": { type: "string", default: "tottime" },
    "profile-filter": { type: "string", default: "" },
    json: { type: "string" },
    src: { type: "string" }, // the app's sources (default: src/)
    before: { type: "string" }, // another tree measured alongside (bench/tree_at.sh REV DIR)
  },
});
const N = Number(opts.requests);
const BATCHES = Number(opts.batches);
const wheels = join(ROOT, ".worker-wheels");
const quiet = () => {};
const ADMIN = "adm_bench_token_0123456789abcdef";

/** The app's AI: the documented whole answer, or a stream of `tokens` events at once. */
class InstantAI {
  tokens = 1;
  async run(model, inputs) {
    if (!inputs.stream) {
      return { response: "Bonjour ! Je m'appelle Claude.", usage: { prompt_tokens: 31, completion_tokens: 9, total_tokens: 40 } };
    }
    const encoder = new TextEncoder();
    let left = this.tokens;
    return new ReadableStream({
      pull(controller) {
        if (left-- > 0) controller.enqueue(encoder.encode('data: {"response":"mot "}\n\n'));
        else {
          controller.enqueue(encoder.encode('data: {"response":"","usage":{"prompt_tokens":31,"completion_tokens":9,"total_tokens":40}}\n\ndata: [DONE]\n\n'));
          controller.close();
        }
      },
    });
  }
}

const ai = new InstantAI();
const bare = await startWorker({ src: join(ROOT, "bench", "worker_bare"), main: "bare_worker", wheels, log: quiet });
const fastapi = await startWorker({ src: join(ROOT, "bench", "worker_bare"), main: "bare_fastapi", wheels, log: quiet });
async function startApp(src) {
  const worker = await startWorker({
    src,
    main: "entry",
    wheels,
    ai,
    vars: { ADMIN_TOKEN: ADMIN },
    durableObjects: { RATE_LIMITER: "RateLimiter" },
    log: quiet,
  });
  const init = { ...json({ name: "bench", rpm: 100000 }), headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` } };
  const { key } = await (await worker.fetch(new Request(`${BASE}/admin/keys`, init))).json();
  return { worker, key };
}

const BASE = "https://llm-api.example.workers.dev";
const json = (body, key) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
  body: JSON.stringify(body),
});
const chat = { model: "llama-3.2-3b-instruct", messages: [{ role: "user", content: "Bonjour" }], max_tokens: 20 };
const apps = { app: await startApp(opts.src ?? join(ROOT, "src")) };
if (opts.before) apps.before = await startApp(opts.before);
const app = apps.app.worker;

const cases = [
  { name: "bare Worker: GET /", worker: bare, make: () => new Request(`${BASE}/`) },
  { name: "bare FastAPI: GET /health", worker: fastapi, make: () => new Request(`${BASE}/health`) },
  { name: "bare FastAPI: POST /v1/chat/completions", worker: fastapi, make: () => new Request(`${BASE}/v1/chat/completions`, json(chat)) },
];
for (const [label, { worker, key }] of Object.entries(apps)) {
  const auth = { authorization: `Bearer ${key}` };
  cases.push(
    { name: `${label}: GET /health`, worker, make: () => new Request(`${BASE}/health`) },
    { name: `${label}: GET /v1/models (key)`, worker, make: () => new Request(`${BASE}/v1/models`, { headers: auth }) },
    { name: `${label}: POST /v1/chat/completions (key)`, worker, make: () => new Request(`${BASE}/v1/chat/completions`, json(chat, key)) },
    { name: `${label}: stream, 1 event`, worker, tokens: 1, make: () => new Request(`${BASE}/v1/chat/completions`, json({ ...chat, stream: true }, key)) },
    { name: `${label}: stream, 201 events`, worker, tokens: 201, requests: Math.max(10, Math.round(N / 10)), make: () => new Request(`${BASE}/v1/chat/completions`, json({ ...chat, stream: true }, key)) },
  );
}

async function call({ worker, make }) {
  const response = await worker.fetch(make());
  await response.arrayBuffer();
  await worker.pending.drain();
  if (response.status !== 200) throw new Error(`${make().url}: ${response.status}`);
}

async function batch(item) {
  const n = item.requests ?? N;
  ai.tokens = item.tokens ?? 1;
  const objects = item.worker.env.RATE_LIMITER;
  const start = process.cpuUsage();
  const objectStart = objects?.cpuMicros ?? 0;
  for (let i = 0; i < n; i++) await call(item);
  const used = process.cpuUsage(start);
  return { total: (used.user + used.system) / n, object: ((objects?.cpuMicros ?? 0) - objectStart) / n };
}

// Rounds: every case runs one batch per round, in an order that rotates, so that noise
// falls on all of them alike; each case's cheapest batch is kept.
for (const item of cases) for (let i = 0; i < Math.min(item.requests ?? N, 50); i++) await call(item);
const measured = Object.fromEntries(cases.map((item) => [item.name, { total: Infinity, object: 0 }]));
for (let round = 0; round < BATCHES; round++) {
  for (let i = 0; i < cases.length; i++) {
    const item = cases[(i + round) % cases.length];
    const got = await batch(item);
    if (got.total < measured[item.name].total) measured[item.name] = got;
  }
}
// the Worker's own CPU: the Durable Object's calls are billed to the object (see above)
const results = Object.fromEntries(Object.entries(measured).map(([name, m]) => [name, m.total - m.object]));
const ms = (us) => (us / 1000).toFixed(3);
console.log(`CPU per request under Pyodide ${app.pyodide.version} (Node ${process.version}), cheapest of ${BATCHES} rotating rounds of batches of ${N}; app from ${opts.src ?? "src/"}${opts.before ? `, before from ${opts.before}` : ""}:\n`);
console.log("| case | Worker CPU ms | + in the Durable Object |\n|---|---|---|");
for (const [name, m] of Object.entries(measured)) console.log(`| ${name} | ${ms(m.total - m.object)} | ${m.object ? ms(m.object) : "–"} |`);
const summary = {};
for (const label of Object.keys(apps)) {
  const perChunk = (results[`${label}: stream, 201 events`] - results[`${label}: stream, 1 event`]) / 200;
  const overModels = results[`${label}: GET /v1/models (key)`] - results["bare FastAPI: GET /health"];
  const overChat = results[`${label}: POST /v1/chat/completions (key)`] - results["bare FastAPI: POST /v1/chat/completions"];
  summary[label] = { perChunk, overModels, overChat };
  console.log(`\n${label}: per streamed event (201 - 1 events, / 200) ${ms(perChunk)} ms; added over bare FastAPI: GET /v1/models ${ms(overModels)} ms, POST chat ${ms(overChat)} ms`);
}
console.log(`start-up (Pyodide, wheels, import): app ${Math.round(app.startupMs)} ms, bare FastAPI ${Math.round(fastapi.startupMs)} ms, bare Worker ${Math.round(bare.startupMs)} ms`);
if (opts.json) writeFileSync(opts.json, JSON.stringify({ measured, results, summary }, null, 1));

if (opts.profile) {
  const item = cases.find((c) => c.name.includes(opts.profile));
  if (!item) throw new Error(`no case matches ${opts.profile}`);
  ai.tokens = item.tokens ?? 1;
  const py = item.worker.pyodide;
  py.runPython("import cProfile; _bench_profile = cProfile.Profile(); _bench_profile.enable()");
  for (let i = 0; i < N; i++) await call(item);
  py.globals.set("_sort", opts["profile-sort"]);
  py.globals.set("_filter", opts["profile-filter"]);
  const report = py.runPython(`
_bench_profile.disable()
_restrict = [_filter, 40] if _filter else [35]
import io, pstats
_out = io.StringIO()
pstats.Stats(_bench_profile, stream=_out).sort_stats(_sort).print_stats(*_restrict)
_out.getvalue()`);
  console.log(`\ncProfile of ${N} x ${item.name} (${opts["profile-sort"]}):\n${report}`);
}
process.exit(0);
