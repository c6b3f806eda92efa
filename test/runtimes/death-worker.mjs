// death.mjs's worker: takes one mutex, queues on the other, says "holding",
// and stays alive until terminated.

import { Mutex } from "../../dist/bindings/index.js";
import { parent } from "./threads.mjs";

const port = parent();
const shared = await port.once();
const held = Mutex.from(shared.held);
const awaited = Mutex.from(shared.awaited);
await held.acquire();
void awaited.acquire();
port.post("holding");
setInterval(() => {}, 1000);
