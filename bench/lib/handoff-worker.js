// Side 1 of bench/lib/handoff.js in a Node worker_threads Worker (bench/browser.js).
import { parentPort, workerData } from "node:worker_threads";
import { Mutex } from "../../dist/bindings/index.js";
import { handoffSide } from "./handoff.js";

const lat = await handoffSide(Mutex.from(workerData.lock), workerData.stamp, 1, workerData.rounds);
parentPort.postMessage(lat);
