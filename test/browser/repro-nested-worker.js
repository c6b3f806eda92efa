// Constructs 4 workers in a row (each one returns at once), then sets done[0].
const url = URL.createObjectURL(new Blob(["onmessage = () => {};"], { type: "text/javascript" }));
self.onmessage = ({ data: done }) => {
  for (let k = 0; k < 4; k++) new Worker(url, { type: "module" }).postMessage(k);
  Atomics.store(done, 0, 1);
};
