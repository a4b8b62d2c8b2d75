// The Worker harness's HTTP front: a node:http server on loopback that turns each request
// into a web Request, calls the Worker's Default.fetch (runtime.mjs), and streams the
// Response body back as its chunks come. Prints one JSON line when it listens:
//   {"ready": "http://127.0.0.1:PORT", "startup_ms": N}
// Options (all but --port have defaults):
//   --port N --host H --src DIR --main MODULE --wheels DIR --fixtures DIR
//   --ai scripted|http://AI-HOST --vars JSON --durable-objects JSON --state-dir DIR
import { once } from "node:events";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { startWorker } from "./runtime.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    src: { type: "string", default: join(ROOT, "src") },
    main: { type: "string", default: "entry" },
    wheels: { type: "string", default: join(ROOT, ".worker-wheels") },
    fixtures: { type: "string", default: join(ROOT, "tests", "support", "fixtures", "workers_ai") },
    ai: { type: "string", default: "scripted" },
    vars: { type: "string", default: "{}" },
    "durable-objects": { type: "string", default: '{"RATE_LIMITER": "RateLimiter"}' },
    "state-dir": { type: "string" },
  },
});

const log = (line) => process.stderr.write(`${line}\n`);
const worker = await startWorker({
  src: opts.src,
  main: opts.main,
  wheels: opts.wheels,
  fixtures: opts.fixtures,
  ai: opts.ai,
  vars: JSON.parse(opts.vars),
  durableObjects: JSON.parse(opts["durable-objects"]),
  stateDir: opts["state-dir"],
  log,
});

function toRequest(req) {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(`http://${req.headers.host ?? `${opts.host}`}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? Readable.toWeb(req) : null,
    duplex: "half",
  });
}

async function pump(body, res) {
  const reader = body.getReader();
  const closed = once(res, "close");
  res.on("close", () => {
    if (!res.writableFinished) reader.cancel(new Error("client disconnected")).catch(() => {});
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await Promise.race([once(res, "drain"), closed]);
    if (res.destroyed) return;
  }
  res.end();
}

const server = createServer(async (req, res) => {
  let response;
  try {
    response = await worker.fetch(toRequest(req));
  } catch (error) {
    // workerd answers an uncaught exception with a 500 of its own
    log(`Uncaught exception in fetch: ${error?.stack ?? error}`);
    res.writeHead(500, { "content-type": "text/plain" }).end("Worker threw exception");
    return;
  }
  const headers = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push(name, value);
  });
  for (const cookie of response.headers.getSetCookie()) headers.push("set-cookie", cookie);
  res.writeHead(response.status, headers);
  if (!response.body || req.method === "HEAD") {
    res.end();
    return;
  }
  try {
    await pump(response.body, res);
  } catch (error) {
    log(`response body failed: ${error?.stack ?? error}`);
    res.destroy();
  }
});
server.keepAliveTimeout = 5000;
server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  const ready = { ready: `http://${opts.host}:${port}`, startup_ms: Math.round(worker.startupMs) };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
