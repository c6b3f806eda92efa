// Shared test helpers: settle tracking, a real (never faked) macrotask flush,
// the database lock-mode matrix, and an assertion for argument errors that
// accepts a synchronous throw or a rejected promise (the contract names the
// error class, not which of the two a promise-returning method uses).

import { expect } from "vitest";

// Captured at import, before any test installs fake timers.
const realSetImmediate = globalThis.setImmediate;

/** Lets every queued microtask and one round of macrotasks run (real timers even under vi.useFakeTimers). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => realSetImmediate(r));
}

export interface Tracked<T> {
  state: "pending" | "fulfilled" | "rejected";
  value: T | undefined;
  reason: unknown;
  promise: Promise<T>;
}

/** Observes a promise's outcome without awaiting it (and marks its rejection handled). */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const t: Tracked<T> = { state: "pending", value: undefined, reason: undefined, promise };
  promise.then(
    (v) => {
      t.state = "fulfilled";
      t.value = v;
    },
    (e) => {
      t.state = "rejected";
      t.reason = e;
    },
  );
  return t;
}

/** The multi-granularity locking matrix of database lock managers. */
export const DB_MODES = {
  IS: { conflicts: ["X"] },
  IX: { conflicts: ["S", "SIX", "X"] },
  S: { conflicts: ["IX", "SIX", "X"] },
  SIX: { conflicts: ["IX", "S", "SIX", "X"] },
  X: { conflicts: ["IS", "IX", "S", "SIX", "X"] },
} as const;
export type DbMode = keyof typeof DB_MODES;

type ErrorClass = new (...args: never[]) => Error;

/** Asserts that calling `fn` throws, or returns a promise that rejects, with `cls` and a message matching `message`. */
export async function expectArgError(fn: () => unknown, cls: ErrorClass, message: RegExp): Promise<void> {
  let outcome: unknown;
  let threw = false;
  try {
    outcome = fn();
  } catch (e) {
    threw = true;
    outcome = e;
  }
  if (!threw) {
    expect(outcome, "expected a throw or a rejected promise").toBeInstanceOf(Promise);
    await expect(outcome as Promise<unknown>).rejects.toThrow(message);
    await (outcome as Promise<unknown>).catch((e: unknown) => {
      outcome = e;
    });
  }
  expect(outcome).toBeInstanceOf(cls);
  expect((outcome as Error).message).toMatch(message);
}
