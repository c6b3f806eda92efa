// Cross-thread handoff latency through one ringlock Mutex, the same code in
// Node (worker_threads) and in a browser (page and Web Worker): two sides
// alternate strictly. The holder waits until the other side is queued, stamps
// the time (performance.timeOrigin + now(), comparable across threads) into a
// shared Float64 word and releases; the other side, granted, subtracts the
// stamp from its own clock first thing. Side 0 starts holding the lock.

const clock = () => performance.timeOrigin + performance.now();

/** Runs `rounds` acquisitions on side `side` (0 or 1); resolves to the handoff latencies (µs) this side saw. */
export async function handoffSide(mutex, stamp, side, rounds, first) {
  const lat = [];
  let g = side === 0 ? first : undefined;
  for (let i = 0; i < rounds; i++) {
    if (g === undefined) {
      g = await mutex.acquire();
      lat.push((clock() - stamp[0]) * 1000);
    }
    // Side 1 goes second: its last hold has nobody to hand over to.
    if (!(side === 1 && i === rounds - 1)) {
      // Spin briefly; past 1 ms, yield to the event loop between looks (in a
      // browser the other side may need this thread's loop to get going).
      const spinUntil = performance.now() + 1;
      const end = spinUntil + 10_000;
      while (mutex.waiting === 0) {
        const now = performance.now();
        if (now > end) throw new Error("handoff: the other side never queued");
        if (now > spinUntil) await new Promise((r) => setTimeout(r, 0));
      }
    }
    stamp[0] = clock();
    g.release();
    g = undefined;
  }
  return lat;
}

/** Mean handoff in µs from a run's wall time: immune to the coarse clocks of
 *  isolated pages (5 µs in Chromium, 20 µs in Firefox), unlike each stamp. */
export function meanHandoffUs(ms, rounds) {
  return (ms * 1000) / (2 * rounds - 1);
}

/** Median and 99th percentile of a list of numbers. */
export function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, median: at(0.5), p99: at(0.99) };
}
