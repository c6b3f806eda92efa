// ringlock in action, one primitive at a time. Run: npm run demo
import { FifoLock, Mutex, RWLock, Semaphore } from "../dist/bindings/index.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(...a);

// Mutex: three tasks, strictly in arrival order; the guarded value is only
// reachable through a guard.
{
  log("== Mutex guarding a value");
  const account = new Mutex({ value: { balance: 100 } });
  await Promise.all(
    [30, 50, 40].map((amount, i) =>
      account.run(async (g) => {
        await sleep(5);
        if (g.value.balance >= amount) g.value.balance -= amount;
        log(`  task ${i} wants ${amount}: balance now ${g.value.balance}`);
      }),
    ),
  );
  const g = account.tryAcquire();
  log(`  tryAcquire while free -> ${g ? "granted" : "refused"}; locked: ${account.locked}`);
  g.release();
}

// RWLock: readers share, a writer waits for them, and a reader arriving
// behind a queued writer waits too (no writer starvation).
{
  log("== RWLock: strict FIFO between readers and writers");
  const rw = new RWLock();
  const order = [];
  const r1 = await rw.read();
  const granted = (name) => (g) => {
    order.push(name);
    return g;
  };
  const w = rw.write().then(granted("writer"));
  const r2 = rw.read().then(granted("late reader"));
  log(`  readers: ${rw.readers}, waiting: ${rw.waiting} (writer, then the late reader)`);
  r1.release();
  (await w).release();
  (await r2).release();
  log(`  granted in order: ${order.join(" -> ")}`);
}

// Semaphore with weights: a heavy request at the head is not overtaken.
{
  log("== Semaphore(4) with weights");
  const sem = new Semaphore(4);
  const a = await sem.acquire({ weight: 3 });
  const announce = (what) => (g) => {
    log(`  ${what} granted`);
    return g;
  };
  const heavy = sem.acquire({ weight: 4 }).then(announce("heavy (4)"));
  const light = sem.acquire({ weight: 1 }).then(announce("light (1), after heavy,"));
  log(`  available ${sem.available}, waiting ${sem.waiting}: the light request waits behind the heavy one`);
  a.release();
  (await heavy).release();
  (await light).release();
}

// Timeouts and aborts remove the waiter at once.
{
  log("== Timeout and AbortSignal");
  const m = new Mutex();
  const held = await m.acquire();
  try {
    await m.acquire({ timeout: 20 });
  } catch (e) {
    log(`  ${e.name}: ${e.message}; waiting now ${m.waiting}`);
  }
  const ac = new AbortController();
  const p = m.acquire({ signal: ac.signal });
  ac.abort(new Error("user gave up"));
  await p.catch((e) => log(`  aborted: ${e.message}; waiting now ${m.waiting}`));
  const free = m.whenAcquirable().then(() => log("  whenAcquirable: the mutex is free again"));
  held.release();
  await free;
}

// User-defined modes: the database intention locks IS/IX/S/SIX/X.
{
  log("== FifoLock with IS / IX / S / SIX / X");
  const table = new FifoLock({
    IS: { conflicts: ["X"] },
    IX: { conflicts: ["S", "SIX", "X"] },
    S: { conflicts: ["IX", "SIX", "X"] },
    SIX: { conflicts: ["IX", "S", "SIX", "X"] },
    X: { conflicts: ["IS", "IX", "S", "SIX", "X"] },
  });
  const is = await table.acquire("IS");
  const ix = await table.acquire("IX");
  const s = table.acquire("S");
  const is2 = table.acquire("IS");
  const { held, pending } = table.query();
  log(`  held: ${held.map((h) => h.mode).join(", ")}; queued in order: ${pending.map((p) => p.mode).join(", ")}`);
  ix.release();
  (await s).release();
  (await is2).release();
  is.release();
  log(`  all released; S held now: ${table.held("S")}`);
}
