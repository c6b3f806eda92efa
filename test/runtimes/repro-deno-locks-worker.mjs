// repro-deno-locks-closed-worker.mjs's worker: holds its own Web Lock ("life"
// lock, as ringlock's bindings/deaths.ts does), requests every other worker's
// (watching it, as every ringlock thread does), then closes.

self.onmessage = (e) => {
  const { me, all } = e.data;
  navigator.locks.request(`life-${me}`, () => {
    postMessage("held");
    return new Promise(() => {});
  });
  self.onmessage = () => {
    for (const o of all) if (o !== me) navigator.locks.request(`life-${o}`, () => {});
    setTimeout(() => self.close(), Math.random() * 2);
  };
};
