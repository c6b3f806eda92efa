// Redis suite: ringlock/redis against redlock and redis-semaphore on one local
// redis-server that this suite starts (no persistence) and stops.
//
//   node bench/suites/redis.js [--quick]
//
// 1. Uncontended acquire + release latency, one process, the libraries
//    interleaved per repetition.
// 2. 8 processes contending on one lock per library (bench/suites/redis-child.js):
//    sections per second, fairness (overtakes: a request granted before one
//    made earlier, by wall-clock stamps across processes), exclusion
//    violations (a server-side counter every section enters and leaves), and
//    acquisitions that failed.
// Writes bench/results/redis-latest.{md,json} (redis-quick.* for --quick) and
// sends the report to run.js.

import { execFileSync, fork, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";
import Redis from "ioredis";
import { overtakes, summarize } from "../lib/stats.js";
import { gitDescribe, now, options, progress, send } from "../lib/util.js";
import { make, REDIS_LIBS } from "./redis-libs.js";

const opt = options();
const quick = opt.quick === true;
const PROCS = 8;
const REPS = quick ? 1 : 5;
const OPS = quick ? 200 : 2000;
const CONTEND_MS = quick ? 400 : 3000;
const CONTEND_REPS = quick ? 1 : 3;

function redisServerPath() {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(bin, port) {
  const p = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      if (out.includes("Ready to accept connections")) resolve();
    });
    p.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  p.stdout.resume();
  return p;
}

async function uncontended(client) {
  const samples = new Map(REDIS_LIBS.map((l) => [l.id, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < REDIS_LIBS.length; i++) {
      const l = REDIS_LIBS[(i + rep) % REDIS_LIBS.length];
      const lib = make(l.id, client, `solo-${l.id}`);
      for (let k = 0; k < 50; k++) await (await lib.acquire())();
      const times = [];
      for (let k = 0; k < OPS; k++) {
        const t0 = now();
        const release = await lib.acquire();
        await release();
        times.push((now() - t0) * 1000);
      }
      await lib.close();
      times.sort((a, b) => a - b);
      const med = times[times.length >> 1];
      const p99 = times[Math.floor(times.length * 0.99)];
      samples.get(l.id).push({ med, p99 });
      progress(`[redis 1] rep ${rep + 1}/${REPS} ${l.name}: ${med.toFixed(0)} us median, ${p99.toFixed(0)} us p99`);
    }
  }
  return samples;
}

function message(child, type) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.type !== type) return;
      child.off("message", on);
      resolve(m);
    };
    child.on("message", on);
    child.once("exit", (code) => reject(new Error(`contender exited (${code})`)));
  });
}

async function contended(port, client) {
  const file = fileURLToPath(new URL("./redis-child.js", import.meta.url));
  const kids = Array.from({ length: PROCS }, () =>
    fork(file, [String(port)], { stdio: ["ignore", "inherit", "inherit", "ipc"] }),
  );
  await Promise.all(kids.map((k) => message(k, "ready")));
  const out = new Map(REDIS_LIBS.map((l) => [l.id, []]));
  try {
    for (let rep = 0; rep < CONTEND_REPS; rep++) {
      for (let i = 0; i < REDIS_LIBS.length; i++) {
        const l = REDIS_LIBS[(i + rep) % REDIS_LIBS.length];
        const name = `contend-${l.id}-${rep}`;
        const startAt = Date.now() + 200;
        const results = kids.map((k) => message(k, "result"));
        for (const k of kids) k.send({ type: "go", lib: l.id, name, ms: CONTEND_MS, startAt });
        const rs = await Promise.all(results);
        const took = (Date.now() - startAt) / 1000;
        const sections = rs.reduce((s, r) => s + r.sections, 0);
        const errors = rs.reduce((s, r) => s + r.errors, 0);
        const violations = Number((await client.get(`bench:violations:${name}`)) ?? 0);
        // Fairness: tickets by request stamp, grants by grant stamp.
        const all = rs.flatMap((r) => r.stamps);
        const byReq = all.map((s, i) => [s[0], i]).sort((a, b) => a[0] - b[0]);
        const ticket = new Int32Array(all.length);
        byReq.forEach(([, i], t) => {
          ticket[i] = t;
        });
        const order = all
          .map((s, i) => [s[1], i])
          .sort((a, b) => a[0] - b[0])
          .map(([, i]) => ticket[i]);
        const fair = overtakes(order, order.length, all.length);
        const cell = {
          sectionsPerSec: sections / took,
          sections,
          errors,
          firstError: rs.find((r) => r.firstError)?.firstError,
          violations,
          fairness: fair,
          perProcess: rs.map((r) => r.sections),
        };
        out.get(l.id).push(cell);
        progress(
          `[redis 2] rep ${rep + 1}/${CONTEND_REPS} ${l.name}: ${cell.sectionsPerSec.toFixed(0)} sections/s, ` +
            `${fair.overtaken}/${fair.requests} overtaken (max ${fair.maxOvertakes}), ${violations} violations, ` +
            `${errors} failed, per process ${cell.perProcess.join("/")}`,
        );
      }
    }
  } finally {
    for (const k of kids) if (k.connected) k.send({ type: "quit" });
  }
  return out;
}

const median = (xs) => summarize(xs).median;

function markdown(r) {
  const lines = [];
  lines.push(`# ringlock/redis benchmark${r.meta.quick ? " (quick run)" : ""}`);
  lines.push("");
  lines.push(
    `${r.meta.cpu} x${r.meta.cores}, Node ${r.meta.node}, redis-server ${r.meta.redis}, ${r.meta.commit ?? ""}; ` +
      `${r.meta.reps} repetitions of ${r.meta.ops} uncontended operations, ${r.meta.contendReps} x ${r.meta.contendMs} ms ` +
      `with ${PROCS} processes per library; medians over repetitions.`,
  );
  lines.push("");
  lines.push(
    "| library | uncontended acquire+release, median (us) | p99 (us) | 8 processes: sections/s | overtaken requests | max overtakes of one request | exclusion violations | failed acquisitions |",
  );
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const l of REDIS_LIBS) {
    const u = r.uncontended[l.id];
    const c = r.contended[l.id];
    const fair = c.map((x) => x.fairness);
    const sum = (f) => fair.reduce((s, x) => s + x[f], 0);
    lines.push(
      `| ${l.name} | ${median(u.map((x) => x.med)).toFixed(0)} | ${median(u.map((x) => x.p99)).toFixed(0)} | ` +
        `${median(c.map((x) => x.sectionsPerSec)).toFixed(0)} | ${sum("overtaken")} of ${sum("requests")} ` +
        `(${((100 * sum("overtaken")) / Math.max(1, sum("requests"))).toFixed(1)}%) | ${Math.max(...fair.map((x) => x.maxOvertakes))} | ` +
        `${c.reduce((s, x) => s + x.violations, 0)} | ${c.reduce((s, x) => s + x.errors, 0)} |`,
    );
  }
  lines.push("");
  const ring = REDIS_LIBS[0].id;
  for (const l of REDIS_LIBS.slice(1)) {
    const lat = median(r.uncontended[ring].map((x) => x.med)) / median(r.uncontended[l.id].map((x) => x.med));
    const thr =
      median(r.contended[ring].map((x) => x.sectionsPerSec)) / median(r.contended[l.id].map((x) => x.sectionsPerSec));
    lines.push(
      `- ringlock ÷ ${l.name}: uncontended latency ${lat.toFixed(2)}x, contended throughput ${thr.toFixed(2)}x`,
    );
  }
  lines.push("");
  lines.push(
    "Every section enters and leaves a server-side counter (two extra round trips, the same for every library), " +
      "which counts exclusion violations. Overtakes are counted from wall-clock stamps taken around acquire() in each " +
      "process (performance.timeOrigin + performance.now()), the same way for every library; a process descheduled " +
      "between its stamp and its request reaching the server counts as overtaken even by a server-side FIFO queue " +
      "(ringlock's queue order itself is checked by test/redis/stress.test.ts with the server's arrival numbers). " +
      "With 8 processes on few cores, strict FIFO hands the lock to a process that is often not running, which costs " +
      "throughput; the polling libraries let whichever process is running take it again. redlock and redis-semaphore retry every 10 ms (redlock: " +
      "10 ms + up to 10 ms jitter, retryCount -1); ringlock waits in a server-side queue and is woken by pub/sub.",
  );
  return lines.join("\n");
}

const bin = redisServerPath();
if (bin === undefined) {
  progress("[redis] SKIPPED: redis-server is not installed (apt-get install redis-server)");
  await send({ type: "redis", skipped: "redis-server not installed" });
} else {
  const port = await freePort();
  const server = await startServer(bin, port);
  const client = new Redis({ port, host: "127.0.0.1" });
  try {
    const redisVersion = (await client.info("server")).match(/redis_version:(\S+)/)?.[1] ?? "?";
    const u = await uncontended(client);
    const c = await contended(port, client);
    const cpus = os.cpus();
    const results = {
      meta: {
        date: Date.now(),
        quick,
        cpu: cpus[0]?.model ?? "?",
        cores: cpus.length,
        node: process.version,
        redis: redisVersion,
        commit: gitDescribe(fileURLToPath(new URL("../..", import.meta.url))),
        reps: REPS,
        ops: OPS,
        contendReps: CONTEND_REPS,
        contendMs: CONTEND_MS,
      },
      uncontended: Object.fromEntries(u),
      contended: Object.fromEntries(c),
    };
    const md = markdown(results);
    const dir = fileURLToPath(new URL("../results/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    const stem = quick ? "redis-quick" : "redis-latest";
    writeFileSync(`${dir}${stem}.json`, `${JSON.stringify(results, null, 1)}\n`);
    writeFileSync(`${dir}${stem}.md`, `${md}\n`);
    progress(`[redis] wrote bench/results/${stem}.{md,json}`);
    await send({ type: "redis", markdown: md });
  } finally {
    client.disconnect();
    server.kill("SIGKILL");
  }
}
