// Regression: "the engine header's MAGIC was overwritten with 2" (Node 20).
// V8 11.3's baseline compiler zeroed the stack slot holding an internal
// word's address around memory.atomic.wait32, so the old engine's wait loop
// wrote to address 0. Every export that can sleep on a busy word runs here
// under --liftoff-only with the word held by another live thread; the header
// must be intact and the call must end (done, or ERR_RETRY: never hang).
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ERR_RETRY } from "../assembly/layout.js";

const script = new URL("./workers/liftoff-wait.mjs", import.meta.url).pathname;
const OPS = ["cancel", "release", "acquire", "tryAcquire", "enter", "tableNew", "lockNew", "handleNew"];

describe.each(["ringlock.wasm", "ringlock.debug.wasm"])(
  "an internal word that stays busy, under the baseline compiler only (--liftoff-only), %s",
  (build) => {
    for (const op of OPS) {
      it(`leaves the engine header intact while ${op} sleeps on it, and ${op} returns`, () => {
        const out = execFileSync(process.execPath, ["--liftoff-only", script, op, build], {
          encoding: "utf8",
          timeout: 20_000,
        });
        const r = JSON.parse(out.trim().split("\n").pop() as string);
        expect(r.magicIntact).toBe(true);
        expect(r.result === ERR_RETRY || r.result >= 0).toBe(true);
      });
    }
  },
);
