// Cross-thread handoff latency through one ringlock Mutex: Node (main thread
// and a worker_threads Worker) next to Chromium and Firefox (page and a Web
// Worker), the same code (bench/lib/handoff.js) in one run. The mean comes
// from wall time (isolated pages coarsen their clocks to 5-20 us); medians and
// p99 from per-handoff stamps. Browsers missing here are reported as skipped.
// Run: node bench/browser.js [--rounds=N]   (part of npm run bench)
import { existsSync, writeFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { Mutex } from "../dist/bindings/index.js";
import { serve } from "../examples/browser/server.mjs";
import { handoffSide, meanHandoffUs, summary } from "./lib/handoff.js";

const arg = process.argv.find((a) => a.startsWith("--rounds="));
const ROUNDS = arg ? Number(arg.slice(9)) : 5000;
const RUNS = 3;

async function node() {
  const m = new Mutex();
  const stamp = new Float64Array(new SharedArrayBuffer(8));
  const first = await m.acquire();
  const start = performance.now();
  const w = new Worker(new URL("./lib/handoff-worker.js", import.meta.url), {
    workerData: { lock: m.share(), stamp, rounds: ROUNDS },
  });
  const theirs = new Promise((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
  const mine = await handoffSide(m, stamp, 0, ROUNDS, first);
  const all = [...mine, ...(await theirs)];
  const ms = performance.now() - start;
  await w.terminate();
  return { meanUs: meanHandoffUs(ms, ROUNDS), all: summary(all) };
}

async function browser(name) {
  let launch;
  if (name === "Chromium") {
    if (!existsSync("/usr/bin/chromium")) return undefined;
    const { chromium } = await import("playwright-core");
    launch = () =>
      chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
      });
  } else {
    if (!existsSync("/usr/bin/firefox-esr")) return undefined;
    const puppeteer = (await import("puppeteer-core")).default;
    launch = () => puppeteer.launch({ browser: "firefox", executablePath: "/usr/bin/firefox-esr", headless: true });
  }
  const server = await serve(0);
  const b = await launch();
  try {
    const page = await b.newPage();
    await page.goto(`${server.url}/test/browser/suite.html`);
    await page.waitForFunction('document.title === "ready"');
    const version = await b.version();
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await page.evaluate(`window.suite.latency({ rounds: ${ROUNDS} })`));
    return { version, runs };
  } finally {
    await b.close();
    await server.close();
  }
}

const rows = [];
const nodeRuns = [];
for (let i = 0; i < RUNS; i++) nodeRuns.push(await node());
const best = (runs) => runs.reduce((a, b) => (b.meanUs < a.meanUs ? b : a));
const nodeBest = best(nodeRuns);
rows.push([`Node ${process.version}`, nodeBest]);
for (const name of ["Chromium", "Firefox"]) {
  const r = await browser(name);
  if (r === undefined) console.log(`${name}: not installed here, skipped`);
  else rows.push([`${name} ${r.version.replace(/^.*\//, "")}`, best(r.runs)]);
}

const lines = [
  `# Cross-thread handoff through one Mutex (${ROUNDS} round trips, best of ${RUNS} runs)`,
  "",
  "| runtime | mean µs (wall time) | median µs | p99 µs | mean vs Node |",
  "|---|---:|---:|---:|---:|",
  ...rows.map(
    ([name, r]) =>
      `| ${name} | ${r.meanUs.toFixed(1)} | ${r.all.median.toFixed(1)} | ${r.all.p99.toFixed(0)} | ${(r.meanUs / nodeBest.meanUs).toFixed(2)}x |`,
  ),
  "",
  "Browsers: page main thread <-> one Web Worker; Node: main thread <-> one worker_threads Worker.",
  "Medians and p99 are per-handoff stamps, quantised by the browsers' coarse clocks in isolated pages.",
];
console.log(lines.join("\n"));
writeFileSync(new URL("./results/browser-latest.md", import.meta.url), `${lines.join("\n")}\n`);
