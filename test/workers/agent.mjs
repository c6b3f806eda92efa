// A worker that does exactly what the main thread tells it, one command at a
// time, and says when each step is done: the owner-death tests drive it so that
// they know, at every moment, what it holds and what it waits for.
//
// workerData: { locks: { kind, lock: share() }[] }
// Commands (postMessage):
//   { op: "acquire", id, lock, mode, weight? } -> { type: "queued", id } once the request is made,
//        then { type: "granted", id, lock, mode, weight, abandoned } when it is granted
//   { op: "release", id, lock }                -> { type: "released", id }
//   { op: "die", how: "return" | "throw" | "exit", code? }
//        return: stop listening, so the worker ends once nothing else keeps it alive
//        throw:  an uncaught exception; exit: process.exit(code)
// Posts { type: "ready", threadId } first.

import { parentPort, threadId, workerData } from "node:worker_threads";
import { acquireRequest, lockFrom } from "./common.mjs";

const locks = workerData.locks.map((d) => ({ kind: d.kind, obj: lockFrom(d) }));
const guards = new Map();

parentPort.on("message", (cmd) => {
  switch (cmd.op) {
    case "acquire": {
      const { kind, obj } = locks[cmd.lock];
      const p = acquireRequest(kind, obj, { mode: cmd.mode, weight: cmd.weight ?? 1 });
      parentPort.postMessage({ type: "queued", id: cmd.id });
      p.then(
        (g) => {
          guards.set(cmd.lock, g);
          parentPort.postMessage({
            type: "granted",
            id: cmd.id,
            lock: cmd.lock,
            mode: g.mode,
            weight: g.weight,
            abandoned: g.abandoned,
          });
        },
        (e) => parentPort.postMessage({ type: "rejected", id: cmd.id, error: String(e?.stack ?? e) }),
      );
      break;
    }
    case "release":
      guards.get(cmd.lock).release();
      guards.delete(cmd.lock);
      parentPort.postMessage({ type: "released", id: cmd.id });
      break;
    case "die":
      if (cmd.how === "throw") throw new Error("agent dies by throwing");
      if (cmd.how === "exit") process.exit(cmd.code ?? 0);
      parentPort.close();
      break;
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd)}`);
  }
});
parentPort.postMessage({ type: "ready", threadId });
