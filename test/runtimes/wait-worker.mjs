// liveness.mjs's worker: asks for the shared mutex with nothing else keeping
// it alive, says "granted", holds it `hold` ms, releases it and ends by itself.

import { Mutex } from "../../dist/bindings/index.js";
import { parent } from "./threads.mjs";

const port = parent();
const { lock, hold } = await port.once();
const m = Mutex.from(lock);
port.post("asking");
const g = await m.acquire();
port.post("granted");
if (hold > 0) await new Promise((r) => setTimeout(r, hold));
g.release();
if (port.kind === "web") {
  port.post("finished");
  port.close();
}
