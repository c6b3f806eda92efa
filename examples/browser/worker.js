// A worker of the browser demo: takes the shared locks at random, holds each
// for a few milliseconds (long enough to be seen), and counts its sections.
import { Engine, Mutex, RWLock, Semaphore } from "/dist/bindings/index.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

self.onmessage = async ({ data }) => {
  const locks = { mutex: Mutex.from(data.mutex), rw: RWLock.from(data.rw), sem: Semaphore.from(data.sem) };
  const sections = data.sections;
  self.postMessage({ type: "ready", threadId: Engine.threadId });
  for (;;) {
    const r = Math.random();
    const [key, i, take] =
      r < 0.45
        ? ["mutex", 0, () => locks.mutex.acquire()]
        : r < 0.6
          ? ["rw", 1, () => locks.rw.write()]
          : r < 0.8
            ? ["rw", 1, () => locks.rw.read()]
            : ["sem", 2, () => locks.sem.acquire()];
    const g = await take();
    if (g.abandoned) self.postMessage({ type: "abandoned", lock: key });
    await sleep(5 + Math.random() * 25);
    Atomics.add(sections, i, 1);
    g.release();
    await sleep(Math.random() * 5);
  }
};
