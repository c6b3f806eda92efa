// FIFO across workers: takes tickets and enqueues requests on a lock that the
// main thread holds, so that ticket order is queue order; then records the
// order in which the requests are granted.
//
// workerData: { kind, lock: share(), permits, ctl: SharedArrayBuffer (F_* words),
//               tickets: SharedArrayBuffer (TICKET_WORDS per ticket), count, seed }
// Posts { queued: count } once all its requests are queued, then
// { done: true, errors } once all were granted and released.

import { parentPort, threadId, workerData } from "node:worker_threads";
import {
  acquireRequest,
  F_FAILS,
  F_GATE,
  F_SEQ,
  F_TICKET,
  lockFrom,
  MODE_NAMES,
  pause,
  pickRequest,
  rng,
  T_MODE,
  T_SEQ,
  T_THREAD,
  T_WEIGHT,
  TICKET_WORDS,
} from "./common.mjs";

const { kind, permits, count, seed } = workerData;
const rand = rng(seed);
const lock = lockFrom(workerData);
const ctl = new Int32Array(workerData.ctl);
const tickets = new Int32Array(workerData.tickets);
const names = MODE_NAMES[kind];
const errors = [];

function fail(msg) {
  Atomics.add(ctl, F_FAILS, 1);
  errors.push(msg);
}

// Strict FIFO: when ticket t is granted, every earlier ticket has left the
// queue, so what is still queued is exactly the last `pending.length` tickets,
// in order.
function checkQueueIsSuffix(t) {
  const { pending } = lock.query();
  const total = Atomics.load(ctl, F_TICKET);
  if (pending.length > total - 1 - t) fail(`ticket ${t} granted with ${pending.length} of ${total} still queued`);
  const first = total - pending.length;
  pending.forEach((p, i) => {
    const k = (first + i) * TICKET_WORDS;
    const want = { mode: names[tickets[k + T_MODE]], weight: tickets[k + T_WEIGHT], threadId: tickets[k + T_THREAD] };
    if (p.mode !== want.mode || p.weight !== want.weight || p.threadId !== want.threadId) {
      fail(
        `at ticket ${t}'s grant, queue position ${i} is ${JSON.stringify(p)}, ticket ${first + i} is ${JSON.stringify(want)}`,
      );
    }
  });
}

async function granted(t, g) {
  tickets[t * TICKET_WORDS + T_SEQ] = Atomics.add(ctl, F_SEQ, 1);
  checkQueueIsSuffix(t);
  await pause(rand);
  g.release();
}

const all = [];
for (let i = 0; i < count; i++) {
  while (Atomics.compareExchange(ctl, F_GATE, 0, 1) !== 0) Atomics.wait(ctl, F_GATE, 1, 1);
  const t = Atomics.add(ctl, F_TICKET, 1);
  const req = pickRequest(kind, permits, rand);
  const k = t * TICKET_WORDS;
  tickets[k + T_MODE] = names.indexOf(req.mode);
  tickets[k + T_WEIGHT] = req.weight;
  tickets[k + T_THREAD] = threadId;
  tickets[k + T_SEQ] = -1;
  const p = acquireRequest(kind, lock, req);
  Atomics.store(ctl, F_GATE, 0);
  Atomics.notify(ctl, F_GATE);
  all.push(p.then((g) => granted(t, g)));
}
parentPort.postMessage({ queued: count });
await Promise.all(all);
parentPort.postMessage({ done: true, errors });
