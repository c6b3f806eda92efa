// A Web Worker that says hello and closes (web-worker-event.mjs).
postMessage("hello");
self.close();
