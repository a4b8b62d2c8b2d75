// The Python Worker under real Pyodide, on Node 22: what workerd does for a Python Worker,
// minus workerd. Loads Pyodide from node_modules (offline), installs the Worker's wheels,
// mounts its sources, provides the modules the runtime SDK imports from workerd
// (_pyodide_entrypoint_helper, _cloudflare_compat_flags, cloudflare:workers), imports the
// main module, and calls its `Default` entrypoint and Durable Object classes the way
// workerd's entrypoint helper does (tests/worker/harness/harness_rpc.py).
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

import { Ai, DurableObjectNamespace, ForwardingAI, KvNamespace, ScriptedAI, listingFromFixture } from "./bindings.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const PYODIDE_DIR = join(dirname(fileURLToPath(import.meta.resolve("pyodide"))), "/");

// Nothing here may reach a network: Pyodide would fetch a package it does not find
// (the lockfile's packages are not in the npm package), the Worker's own fetch() has no
// upstream. Either is a bug in the harness or in the Worker, so it fails loudly.
function noNetwork(resource) {
  const url = typeof resource === "string" ? resource : (resource?.url ?? String(resource));
  throw new Error(`the Worker harness has no network: fetch(${url}) refused`);
}

// workerd's compatibility flags the SDK reads (all off at our compatibility date).
const COMPAT_FLAGS = {
  python_workflows_implicit_dependencies: false,
  python_request_headers_preserve_commas: false,
};

class ExecutionContext {
  #pending;
  constructor(pending) {
    this.#pending = pending;
    this.props = {};
  }
  get [Symbol.toStringTag]() {
    return "ExecutionContext";
  }
  waitUntil(promise) {
    this.#pending(promise);
  }
  passThroughOnException() {}
}

/**
 * Tracks waitUntil work. A Python awaitable handed to JS is a borrowed proxy that Pyodide
 * destroys when the call returns, so it is copied at once and destroyed once settled
 * (as workerd's patched waitUntil does).
 */
function pendingWork(log) {
  const pending = new Set();
  const add = (awaitable) => {
    const owned = typeof awaitable?.copy === "function" ? awaitable.copy() : awaitable;
    const settled = (async () => {
      try {
        await owned;
      } catch (error) {
        log(`waitUntil: ${error?.stack ?? error}`);
      } finally {
        owned?.destroy?.();
      }
    })();
    pending.add(settled);
    settled.finally(() => pending.delete(settled));
  };
  add.drain = async () => {
    while (pending.size) await Promise.allSettled([...pending]);
  };
  return add;
}

/** Start the Worker; resolves to {fetch(request), env, pyodide, pending, startupMs}.
 * `fixtures` defaults to tests/support/fixtures/workers_ai (the scripted AI, the listing). */
export async function startWorker({
  src,
  main = "entry",
  wheels,
  ai = "scripted",
  fixtures = join(HERE, "..", "..", "support", "fixtures", "workers_ai"),
  vars = {},
  durableObjects = {},
  stateDir,
  log = (line) => process.stderr.write(`${line}\n`),
}) {
  const started = performance.now();
  globalThis.fetch = noNetwork;
  const pyodide = await loadPyodide({
    indexURL: PYODIDE_DIR,
    stdout: (line) => log(line),
    stderr: (line) => log(line),
  });
  for (const name of readdirSync(wheels).filter((file) => file.endsWith(".whl")).sort()) {
    pyodide.unpackArchive(new Uint8Array(readFileSync(join(wheels, name))), "wheel");
  }

  const pending = pendingWork(log);
  const env = { ...vars };
  const cloudflareWorkers = {
    env,
    waitUntil: pending,
    WorkerEntrypoint: class WorkerEntrypoint {},
    DurableObject: class DurableObject {},
  };
  const refuse = (what) => () => {
    throw new Error(`the Worker harness does not provide ${what}`);
  };
  pyodide.registerJsModule("_pyodide_entrypoint_helper", {
    cloudflareWorkersModule: cloudflareWorkers,
    cloudflareSocketsModule: { connect: refuse("cloudflare:sockets") },
    doAnImport: async (name) => refuse(`the JS module ${name}`)(),
    patch_env_helper: refuse("workers.patch_env"),
    // The SDK calls this on every entrypoint's ctx; this ctx already copies what it keeps.
    patchWaitUntil: () => {},
  });
  pyodide.registerJsModule("_cloudflare_compat_flags", COMPAT_FLAGS);

  pyodide.FS.mkdirTree("/worker");
  pyodide.mountNodeFS("/worker", src);
  pyodide.FS.mkdirTree("/harness");
  pyodide.FS.writeFile("/harness/harness_rpc.py", readFileSync(join(HERE, "harness_rpc.py")));
  pyodide.runPython("import sys; sys.path[:0] = ['/worker', '/harness']");
  const callMethod = pyodide.pyimport("harness_rpc").call_method;
  const mainModule = pyodide.pyimport(main);

  // "scripted", an AI host's URL, or (benches) any object with run(model, inputs, options)
  const source =
    typeof ai === "object" ? ai : ai === "scripted" ? new ScriptedAI(fixtures) : new ForwardingAI(ai);
  env.AI = new Ai(source, listingFromFixture(fixtures));
  env.API_KEYS = new KvNamespace();
  for (const [binding, className] of Object.entries(durableObjects)) {
    const cls = mainModule[className];
    if (typeof cls !== "function") throw new Error(`${main}.py has no Durable Object class ${className}`);
    env[binding] = new DurableObjectNamespace({
      create: (state) => cls(state, env),
      call: (instance, method, args) => callMethod(false, instance, method, ...args),
      stateDir,
      pending,
    });
  }

  const Default = mainModule.Default;
  if (typeof Default !== "function") throw new Error(`${main}.py has no Default entrypoint`);

  // workerd builds a new entrypoint instance for every request.
  async function fetch(request) {
    const instance = Default(new ExecutionContext(pending), env);
    try {
      return await callMethod(true, instance, "fetch", request);
    } finally {
      instance.destroy();
    }
  }
  return { fetch, env, pyodide, pending, startupMs: performance.now() - started };
}
