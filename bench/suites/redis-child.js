// One of the 8 contending processes of the Redis suite (bench/suites/redis.js).
// Messages from the parent: { go: lib, name, ms } -> runs sections on that
// library's lock for ms, then sends { type: "result", stamps, sections, errors }.
// stamps: [requested, granted] per section, in ms of wall-clock time
// (performance.timeOrigin + performance.now(), comparable across processes).

import Redis from "ioredis";
import { checker, make } from "./redis-libs.js";

const port = Number(process.argv[2]);
const client = new Redis({ port, host: "127.0.0.1" });
const wall = () => performance.timeOrigin + performance.now();

process.on("message", async (m) => {
  if (m.type === "quit") {
    client.disconnect();
    process.disconnect();
    return;
  }
  const lib = make(m.lib, client, m.name);
  const check = checker(client, m.name);
  const stamps = [];
  let errors = 0;
  let firstError;
  const wait = m.startAt - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const end = Date.now() + m.ms;
  while (Date.now() < end) {
    const t0 = wall();
    let release;
    try {
      release = await lib.acquire();
    } catch (e) {
      errors++;
      firstError ??= String(e?.message ?? e);
      continue;
    }
    const t1 = wall();
    await check.enter();
    await check.exit();
    try {
      await release();
    } catch (e) {
      errors++;
      firstError ??= String(e?.message ?? e);
    }
    stamps.push([t0, t1]);
  }
  await lib.close();
  process.send({ type: "result", stamps, sections: stamps.length, errors, firstError });
});
process.send({ type: "ready" });
