// A tiny assert helper for the scripts that runtimes.test.ts runs under Deno
// and Bun. Each script records checks and ends with done(): one JSON line on
// stdout, { ok, runtime, version, checks, failures }. A failure exits with code
// 1; success sets nothing, so the script must end by itself (its exit is part
// of what is tested).

const failures = [];
let checks = 0;

/** Extra fields for the result line (a seed, counts). */
export const info = {};

export const runtime =
  typeof globalThis.Deno === "object"
    ? { runtime: "deno", version: globalThis.Deno.version.deno }
    : typeof globalThis.Bun === "object"
      ? { runtime: "bun", version: globalThis.Bun.version }
      : { runtime: "node", version: globalThis.process?.version };

const show = (v) => {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

/** Records a failure unless `cond` holds. */
export function ok(cond, what) {
  checks++;
  if (!cond) failures.push(what);
}

/** Records a failure unless `actual` and `expected` have the same JSON form. */
export function equal(actual, expected, what) {
  checks++;
  const a = show(actual);
  const e = show(expected);
  if (a !== e) failures.push(`${what}: got ${a}, expected ${e}`);
}

/** Records a failure unless `promise` rejects; returns the reason. */
export async function rejects(promise, what) {
  checks++;
  try {
    await promise;
    failures.push(`${what}: did not reject`);
  } catch (e) {
    return e;
  }
}

/** Rejects with a named error when `promise` has not settled within `ms` (a liveness bound). */
export function within(ms, promise, what) {
  let timer;
  const bound = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Prints the result line; exits non-zero on a failure (or an error thrown by `main`). */
export async function done(main) {
  try {
    await main();
  } catch (e) {
    failures.push(`threw: ${e?.stack ?? e}`);
  }
  console.log(JSON.stringify({ ok: failures.length === 0, ...runtime, checks, failures, ...info }));
  if (failures.length > 0) {
    // Let stdout drain before leaving.
    setTimeout(() => globalThis.process?.exit?.(1) ?? globalThis.Deno?.exit(1), 10);
  }
}
