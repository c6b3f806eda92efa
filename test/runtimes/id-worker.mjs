// ids.mjs's worker: reports Engine.threadId, then takes the shared mutex on
// "take" and releases it on "release".

import { Engine, Mutex } from "../../dist/bindings/index.js";
import { parent } from "./threads.mjs";

const port = parent();
const m = Mutex.from(await port.once());
port.post(Engine.threadId);
await port.once();
const g = await m.acquire();
port.post("holding");
await port.once();
g.release();
if (port.kind === "web") {
  port.post("finished");
  port.close();
}
