// A Web Worker that says hello and closes (repro-bun-web-worker-event.mjs).
postMessage("hello");
self.close();
