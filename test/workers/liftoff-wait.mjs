// Regression for the header overwrite seen on Node 20 (V8 11.3): its baseline
// compiler (Liftoff) prepared memory.atomic.wait32 with an 8-byte store into a
// 4-byte stack slot, zeroing the neighbouring slot that held the word's
// address, so the next pass of the wait loop wrote to address 0, the engine's
// MAGIC. Run with `node --liftoff-only liftoff-wait.mjs <op> [build]`: a helper thread
// holds one internal word (stamped with a live thread record) for a while, so
// that <op> sleeps in the bounded wait path, then lets it go. Prints JSON:
// { op, result, magicIntact }.
import "../../dist/bindings/debug.js";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { H_ALLOC, H_MAGIC, MAGIC_VALUE } from "../../dist/assembly/layout.js";
import { engineImports } from "../../dist/bindings/wasm.js";

const op = process.argv[2];
const wasm = new URL(`../../build/${process.argv[3] ?? "ringlock.wasm"}`, import.meta.url);
const memory = new WebAssembly.Memory({ initial: 1, maximum: 4096, shared: true });
const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasm)), engineImports(memory)).exports;
const i32 = new Int32Array(memory.buffer);
x.init(4096 * 65536, 1, 2);
const A = x.attach(1, 1);
const B = x.attach(2, 1);
const H = x.attach(3, 1); // the helper's record: alive, so nobody may take its word
x.markShared();
const t = x.tableNew(A, 1);
x.tableSet(t, 0, 1, 0xffffffff);
const l = x.lockNew(A, t);
const held = x.acquire(A, l, 0, 1);
const queued = x.acquire(B, l, 0, 1) & ~1;
const word = op === "tableNew" || op === "lockNew" || op === "handleNew" ? H_ALLOC : l;
Atomics.store(i32, word >> 2, H);
const helper = new Worker(
  `const { workerData: { memory, word } } = require("node:worker_threads");
   const i32 = new Int32Array(memory.buffer);
   Atomics.wait(i32, 31, 0, 1); // let the main thread reach its wait loop
   if (Atomics.exchange(i32, word >> 2, 0) & 1) Atomics.notify(i32, word >> 2, 1);`,
  { eval: true, workerData: { memory, word } },
);
await new Promise((r) => helper.once("online", r));
const gen = (n) => i32[n >> 2] >>> 8;
const ops = {
  cancel: () => x.cancel(B, queued, gen(queued)),
  release: () => x.release(A, held, gen(held)),
  acquire: () => x.acquire(B, l, 0, 1),
  tryAcquire: () => x.tryAcquire(B, l, 0, 1),
  enter: () => x.enter(B, l),
  tableNew: () => x.tableNew(B, 1),
  lockNew: () => x.lockNew(B, t),
  handleNew: () => x.handleNew(B, l, 0),
};
const result = ops[op]();
console.log(JSON.stringify({ op, result, magicIntact: i32[H_MAGIC >> 2] === MAGIC_VALUE }));
process.exit(0);
