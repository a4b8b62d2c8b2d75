// The Worker's bindings, as workerd would hand them to Python: AI (Workers AI), API_KEYS
// (KV) and RATE_LIMITER (a Durable Object namespace). The class names matter: the runtime
// SDK's _EnvWrapper picks its wrapper by constructor name (Ai, KvNamespace,
// DurableObjectNamespace; DurableObjectStorage for ctx.storage), so these objects get the
// same argument and result conversions as on workerd.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

// --- Workers AI ------------------------------------------------------------------------------

// Workers AI throws errors named like this, with "<code>: <text>" messages (workerd ai-api.ts).
class InferenceUpstreamError extends Error {
  constructor(message) {
    super(message);
    this.name = "InferenceUpstreamError";
  }
}

/** The AI binding. `source` answers run(): a scripted one (fixtures) or a forwarder. */
export class Ai {
  #source;
  #listing;
  constructor(source, listing) {
    this.#source = source;
    this.#listing = listing;
  }

  async run(model, inputs, options) {
    if (typeof model !== "string" || inputs === null || typeof inputs !== "object") {
      throw new InferenceUpstreamError("5006: Error: invalid inputs");
    }
    return this.#source.run(model, structuredClone(inputs), structuredClone(options ?? {}));
  }

  // env.AI.models({task, per_page, page}): that page's `result` array (workerd ai-api.ts).
  async models(params = {}) {
    const perPage = Number(params.per_page ?? 50);
    const page = Number(params.page ?? 1);
    const task = params.task;
    const matching = this.#listing.filter((entry) => !task || entry?.task?.name === task);
    return structuredClone(matching.slice((page - 1) * perPage, page * perPage));
  }
}

export function listingFromFixture(fixtures) {
  return JSON.parse(readFileSync(join(fixtures, "models-binding.json"), "utf8"));
}

/** Fixed answers from the documented fixtures: a whole result, or the SSE stream's bytes. */
export class ScriptedAI {
  #whole;
  #stream;
  constructor(fixtures) {
    this.#whole = JSON.parse(readFileSync(join(fixtures, "legacy-whole.json"), "utf8"));
    this.#stream = readFileSync(join(fixtures, "legacy-stream.sse"));
  }

  async run(model, inputs) {
    if (!inputs.stream) return structuredClone(this.#whole);
    // one chunk per event, as Workers AI sends them
    const events = this.#stream.toString("utf8").split(/(?<=\n\n)/);
    const encoder = new TextEncoder();
    return new ReadableStream({
      pull(controller) {
        const event = events.shift();
        if (event === undefined) controller.close();
        else controller.enqueue(encoder.encode(event));
      },
    });
  }
}

/**
 * Forwards run() to an AI host (tests/worker/harness/ai_host.py) over loopback: POST /run
 * {model, inputs, options} answers the binding's result as JSON, or its SSE bytes, or
 * {name, message} for what the binding would throw.
 */
export class ForwardingAI {
  #url;
  constructor(url) {
    this.#url = new URL("/run", url);
  }

  run(model, inputs, options) {
    const body = Buffer.from(JSON.stringify({ model, inputs, options }));
    return new Promise((resolve, reject) => {
      const req = httpRequest(this.#url, {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": body.length },
      });
      req.on("error", (error) => reject(new InferenceUpstreamError(`3043: ${error.message}`)));
      req.on("response", (res) => {
        const type = res.headers["content-type"] ?? "";
        if (res.statusCode === 200 && type.startsWith("text/event-stream")) {
          resolve(streamOf(res));
          return;
        }
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          let value;
          try {
            value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch (error) {
            reject(new Error(`the AI host answered ${res.statusCode} with no JSON: ${error.message}`));
            return;
          }
          if (res.statusCode === 200) resolve(value);
          else reject(thrown(value));
        });
      });
      req.end(body);
    });
  }
}

function thrown({ name, message }) {
  const error = name === "InferenceUpstreamError" ? new InferenceUpstreamError(message) : new Error(message);
  if (name && name !== error.name) error.name = name;
  return error;
}

// A web ReadableStream over a node:http response, pulled as the reader asks (backpressure),
// each chunk a plain Uint8Array; cancelling it closes the connection, so the AI host stops.
function streamOf(res) {
  res.pause();
  return new ReadableStream({
    start(controller) {
      res.on("data", (chunk) => {
        controller.enqueue(new Uint8Array(chunk));
        if (controller.desiredSize <= 0) res.pause();
      });
      res.on("end", () => controller.close());
      res.on("error", (error) => controller.error(new InferenceUpstreamError(`3043: ${error.message}`)));
    },
    pull() {
      res.resume();
    },
    cancel() {
      res.destroy();
    },
  });
}

// --- KV -------------------------------------------------------------------------------------

/** A KV namespace in memory: get/put/list/delete with expirationTtl (strongly consistent). */
export class KvNamespace {
  #values = new Map(); // key -> {value, expiration (unix seconds) | undefined}

  #live(key) {
    const entry = this.#values.get(key);
    if (entry && entry.expiration !== undefined && entry.expiration <= Date.now() / 1000) {
      this.#values.delete(key);
      return undefined;
    }
    return entry;
  }

  async get(key, options) {
    const type = typeof options === "string" ? options : (options?.type ?? "text");
    const entry = this.#live(String(key));
    if (entry === undefined) return null;
    return type === "json" ? JSON.parse(entry.value) : entry.value;
  }

  async put(key, value, options = {}) {
    if (typeof value !== "string") throw new TypeError("KV put: this harness stores strings only");
    let expiration = options.expiration;
    if (options.expirationTtl !== undefined) {
      if (options.expirationTtl < 60) throw new Error("KV put failed: 400 Invalid expiration_ttl");
      expiration = Date.now() / 1000 + options.expirationTtl;
    }
    this.#values.set(String(key), { value, expiration });
  }

  async delete(key) {
    this.#values.delete(String(key));
  }

  async list(options = {}) {
    const prefix = options.prefix ?? "";
    const limit = Math.min(Number(options.limit ?? 1000), 1000);
    const names = [...this.#values.keys()].filter((k) => k.startsWith(prefix) && this.#live(k)).sort();
    const start = options.cursor ? Number(options.cursor) : 0;
    const page = names.slice(start, start + limit);
    const complete = start + limit >= names.length;
    const keys = page.map((name) => {
      const { expiration } = this.#values.get(name);
      return expiration === undefined ? { name } : { name, expiration: Math.floor(expiration) };
    });
    return complete ? { keys, list_complete: true } : { keys, list_complete: false, cursor: String(start + limit) };
  }
}

// --- Durable Objects ------------------------------------------------------------------------

export class DurableObjectId {
  constructor(name) {
    this.name = name;
    this.hex = createHash("sha256").update(name).digest("hex");
  }
  toString() {
    return this.hex;
  }
  equals(other) {
    return other?.hex === this.hex;
  }
}

class SqlStorageCursor {
  #rows;
  #index = 0;
  constructor(rows, columnNames, rowsWritten) {
    this.#rows = rows;
    this.columnNames = columnNames;
    this.rowsRead = rows.length;
    this.rowsWritten = rowsWritten;
  }
  next() {
    return this.#index < this.#rows.length ? { done: false, value: this.#rows[this.#index++] } : { done: true };
  }
  toArray() {
    const rest = this.#rows.slice(this.#index);
    this.#index = this.#rows.length;
    return rest;
  }
  one() {
    if (this.#rows.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${this.#rows.length}.`);
    return this.#rows[0];
  }
  raw() {
    const names = this.columnNames;
    return this.toArray().map((row) => names.map((name) => row[name]))[Symbol.iterator]();
  }
  [Symbol.iterator]() {
    return this;
  }
}

/** ctx.storage.sql: synchronous exec(query, ...bindings) on the object's own SQLite file. */
class SqlStorage {
  #db;
  #statements = new Map(); // workerd keeps exec's prepared statements too
  constructor(db) {
    this.#db = db;
  }
  exec(query, ...bindings) {
    let statement = this.#statements.get(query);
    if (statement === undefined) {
      statement = this.#db.prepare(query);
      if (this.#statements.size < 100) this.#statements.set(query, statement);
    }
    const columns = statement.columns().map((column) => column.name);
    if (columns.length === 0) {
      const { changes } = statement.run(...bindings);
      return new SqlStorageCursor([], [], Number(changes));
    }
    // node:sqlite rows have a null prototype; workerd's are plain objects
    const rows = statement.all(...bindings).map((row) => ({ ...row }));
    return new SqlStorageCursor(rows, columns, 0);
  }
  get databaseSize() {
    return this.#db.prepare("SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()").get().size;
  }
}

class DurableObjectStorage {
  #kv = new Map();
  constructor(db) {
    this.sql = new SqlStorage(db);
  }
  async get(key) {
    return structuredClone(this.#kv.get(key));
  }
  async put(key, value) {
    this.#kv.set(key, structuredClone(value));
  }
  async delete(key) {
    return this.#kv.delete(key);
  }
}

class DurableObjectState {
  #pending;
  constructor(id, db, pending) {
    this.id = id;
    this.storage = new DurableObjectStorage(db);
    this.#pending = pending;
  }
  waitUntil(promise) {
    this.#pending(promise);
  }
  async blockConcurrencyWhile(callback) {
    return await callback();
  }
}

/**
 * A Durable Object namespace: one instance per id, created on first use with
 * (state, env), its SQLite in `stateDir` (or in memory). A stub's methods are RPC calls:
 * arguments and results are structured-cloned, as workerd's RPC serialises them, and the
 * instance is called through `call(instance, method, args)` (the runtime's conversions).
 */
export class DurableObjectNamespace {
  // CPU spent inside the objects' calls (benches): workerd runs an object in an isolate
  // of its own and bills it as Durable Object time, not as the calling Worker's CPU
  cpuMicros = 0;
  #objects = new Map();
  #create;
  #call;
  #stateDir;
  #pending;
  constructor({ create, call, stateDir, pending }) {
    this.#create = create;
    this.#call = call;
    this.#stateDir = stateDir;
    this.#pending = pending;
  }

  #ids = new Map(); // name -> id: hashing a name per call would bill workerd's native work to the Worker
  idFromName(name) {
    const key = String(name);
    let id = this.#ids.get(key);
    if (id === undefined) this.#ids.set(key, (id = new DurableObjectId(key)));
    return id;
  }

  getByName(name) {
    return this.get(this.idFromName(name));
  }

  get(id) {
    const namespace = this;
    return new Proxy(Object.create(null), {
      get(_target, prop) {
        if (typeof prop !== "string" || prop === "then") return undefined;
        if (prop === "id") return id;
        return async (...args) => {
          const instance = namespace.#instance(id);
          const started = process.cpuUsage();
          try {
            const result = await namespace.#call(instance, prop, structuredClone(args));
            return structuredClone(result);
          } finally {
            const used = process.cpuUsage(started);
            namespace.cpuMicros += used.user + used.system;
          }
        };
      },
    });
  }

  #instance(id) {
    let instance = this.#objects.get(id.hex);
    if (instance === undefined) {
      const file = this.#stateDir ? join(this.#stateDir, `do-${id.hex}.sqlite`) : ":memory:";
      instance = this.#create(new DurableObjectState(id, new DatabaseSync(file), this.#pending));
      this.#objects.set(id.hex, instance);
    }
    return instance;
  }
}
