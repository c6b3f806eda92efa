// Repro (Deno 2.9.6, no ringlock involved): a Web Lock granted to a Web Worker
// that is closing is never released. Four workers each hold their own lock and
// request the other three's, then all close at about the same time; the main
// thread then requests all four locks. Expected: all four granted at once (their
// holders are gone). Got, in about one run of three: some stay held by
// clientIds of closed workers for ever, and the main thread's pending requests
// keep the process alive (it never exits).
//
// This is what makes ringlock's life locks (bindings/deaths.ts: every thread
// with a drawn id holds one, every other thread requests it) leak in Deno when
// Web Workers of one engine end together: `deno run -A test/runtimes/exclusion.mjs web`,
// with its workers closing together, hung at exit in about 1 of 10 runs, the
// main thread waiting for a life lock held by a closed worker (and had that
// worker died holding a ringlock lock, it would not have been reaped by that watcher).
// Run: deno run -A test/runtimes/repro-deno-locks-closed-worker.mjs (loop it).

import { done, equal, within } from "./assert.mjs";

await done(async () => {
  const N = 4;
  const all = Array.from({ length: N }, (_, i) => `${i}-${Math.random()}`);
  const ws = all.map(() => new Worker(new URL("./repro-deno-locks-worker.mjs", import.meta.url), { type: "module" }));
  await Promise.all(
    ws.map(
      (w, i) =>
        new Promise((r) => {
          w.onmessage = r;
          w.postMessage({ me: all[i], all });
        }),
    ),
  );
  for (const w of ws) w.postMessage("go");
  const ac = new AbortController();
  let got = 0;
  try {
    await within(
      3_000,
      Promise.all(all.map((n) => navigator.locks.request(`life-${n}`, { signal: ac.signal }, () => got++))),
      "the closed workers' locks are granted",
    );
  } catch (e) {
    ac.abort();
    const q = await navigator.locks.query();
    throw new Error(`${e.message}: ${got} of ${N} granted; navigator.locks.query(): ${JSON.stringify(q)}`);
  }
  equal(got, N, "every closed worker's lock is granted to the main thread");
});
