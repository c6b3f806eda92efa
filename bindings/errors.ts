// The one place engine result codes become JavaScript errors. Every rejection
// gets a fresh error object (stack traces and `cause` stay per call site).

import { ERR_BUSY, ERR_MODE, ERR_NOMEM, ERR_POISONED, ERR_RETRY, ERR_STALE, ERR_WEIGHT } from "../assembly/layout.js";

/** Base class of ringlock's own errors; `code` is stable, the message is not. */
export class LockError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "LockError";
    this.code = code;
  }
}

/** Rejects an acquire whose `timeout` ran out; `name` is 'TimeoutError' as for AbortSignal.timeout(). */
export class TimeoutError extends Error {
  readonly code = "ERR_RINGLOCK_TIMEOUT";
  constructor(ms: number) {
    super(`ringlock: lock not acquired within ${ms} ms`);
    this.name = "TimeoutError";
  }
}

type WithCode<E> = E & { code: string };

function coded<E extends Error>(e: E, code: string): WithCode<E> {
  return Object.assign(e, { code });
}

/** Maps a negative engine result to the error the caller sees. */
export function engineError(code: number, maxMemoryBytes: number): Error {
  switch (code) {
    case ERR_NOMEM:
      return coded(
        new RangeError(
          `ringlock: engine memory is full (maxMemoryBytes = ${maxMemoryBytes}); release locks or create the Engine with a larger maxMemoryBytes`,
        ),
        "ERR_RINGLOCK_MEMORY_LIMIT",
      );
    case ERR_WEIGHT:
      return coded(new RangeError("ringlock: weight exceeds the mode's limit"), "ERR_RINGLOCK_WEIGHT");
    case ERR_MODE:
      return coded(new TypeError("ringlock: unknown mode"), "ERR_RINGLOCK_MODE");
    case ERR_STALE:
      return new LockError("ERR_RINGLOCK_STALE", "ringlock: handle names no live grant (stale or already released)");
    case ERR_BUSY:
      return new LockError("ERR_RINGLOCK_BUSY", "ringlock: lock is still held or awaited");
    case ERR_RETRY:
      return busyError();
    case ERR_POISONED:
      return new LockError(
        "ERR_RINGLOCK_POISONED",
        "ringlock: the engine met a state it could not repair after a thread died, and refuses further use",
      );
    default:
      return new LockError("ERR_RINGLOCK_INTERNAL", `ringlock: engine returned unknown code ${code}`);
  }
}

/** A synchronous call found the engine busy for longer than it may wait (a
 *  thread died inside the engine and has not been reaped yet): try again. */
export function busyError(): LockError {
  return new LockError(
    "ERR_RINGLOCK_BUSY",
    "ringlock: the engine stayed busy (a thread that died inside it is being recovered); try again",
  );
}

export function typeError(message: string): TypeError {
  return coded(new TypeError(`ringlock: ${message}`), "ERR_RINGLOCK_ARG");
}

export function rangeError(message: string): RangeError {
  return coded(new RangeError(`ringlock: ${message}`), "ERR_RINGLOCK_ARG");
}

const VALIDATE_FAILURES = [
  "ok",
  "pointer outside the heap",
  "malformed mode table",
  "HELD[m] differs from the holds' weights",
  "MASK differs from HELD",
  "hold list back links inconsistent",
  "hold list node not HELD or of another lock",
  "held weight above the mode's limit",
  "two conflicting modes held",
  "queue links inconsistent",
  "queued node not WAITING or of another lock",
  "NWAIT differs from the queue",
  "queue head is grantable (FIFO grant loop stopped early)",
  "free-list node not FREE",
  "lock registry links broken",
  "an internal word stayed busy (a thread died holding it and was not reaped)",
  "node in a live thread's cache not FREE",
];

export function validateFailure(code: number): string {
  return VALIDATE_FAILURES[code] ?? `unknown check ${code}`;
}
