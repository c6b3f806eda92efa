// Small shared helpers: argv options, progress lines, results back to run.js.

import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";

export const now = () => performance.now();

/** --key=value and --flag options. */
export function options(argv = process.argv.slice(2)) {
  const o = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) o[m[1]] = m[2] ?? true;
  }
  return o;
}

export function list(v) {
  return typeof v === "string" && v !== "" ? v.split(",") : null;
}

/** One progress line on stderr (stdout is kept for the final table). */
export function progress(line) {
  process.stderr.write(`${line}\n`);
}

/** Hands a result to the parent (run.js) over IPC, or prints it when run by hand. */
export function send(msg) {
  if (typeof process.send === "function") {
    return new Promise((resolve) => process.send(msg, () => resolve()));
  }
  process.stdout.write(`${JSON.stringify(msg, null, 1)}\n`);
  return Promise.resolve();
}

/** `git describe --always --dirty` of the checkout at dir, or undefined outside one. */
export function gitDescribe(dir) {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty"], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the promise's value, or rejects with a "hang" error after ms. */
export function watchdog(promise, ms, what) {
  let timer;
  const dog = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, dog]).finally(() => clearTimeout(timer));
}

export function fmtNs(ns) {
  if (!Number.isFinite(ns)) return "-";
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns >= 100) return `${ns.toFixed(0)} ns`;
  return `${ns.toFixed(1)} ns`;
}
