// Child-process script: a worker spawned BEFORE this thread first shared any
// lock, given the lock afterwards by postMessage, dies holding it. This
// thread spawned it (and had imported ringlock), so it must reap it: the
// waiter below is granted, told the lock was abandoned. Prints "ok" and ends;
// prints "wedged" and exits 1 if the grant does not come.

import "../../dist/bindings/debug.js";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { Engine, Mutex } from "../../dist/bindings/index.js";

const engine = new Engine({ debug: true });
const mutex = new Mutex({ engine });
const w = new Worker(new URL("./hold-then-return.mjs", import.meta.url));
const exited = once(w, "exit");
const holding = once(w, "message");
await once(w, "online");
w.postMessage(mutex.share());
const [msg] = await holding;
if (msg !== "holding") throw new Error(`unexpected message ${msg}`);
const waiter = mutex.acquire();
await exited;
const guard = setTimeout(() => {
  console.log(`wedged: ${JSON.stringify(mutex.query())}`);
  process.exit(1);
}, 5000);
const g = await waiter;
clearTimeout(guard);
if (!g.abandoned) throw new Error("granted, but not told the lock was abandoned");
g.release();
engine.validate();
console.log("ok");
