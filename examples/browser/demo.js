// The browser demo's page: creates the locks, starts the workers (worker.js),
// and shows each lock's holders and waiters (query()) several times a second.
import { Engine, Mutex, RWLock, Semaphore } from "ringlock";

const status = document.getElementById("status");
const logBox = document.getElementById("log");

function log(text, cls) {
  const line = document.createElement("div");
  line.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  if (cls) line.className = cls;
  logBox.append(line);
  logBox.scrollTop = logBox.scrollHeight;
}

let locks;
try {
  locks = { mutex: new Mutex(), rw: new RWLock(), sem: new Semaphore(2) };
} catch (e) {
  // Not cross-origin isolated: the error names the headers to send.
  status.className = "err";
  status.textContent = String(e.message);
  throw e;
}
// Sections run per lock, counted by the workers (Atomics.add).
const sections = new Int32Array(new SharedArrayBuffer(12));
const KEYS = ["mutex", "rw", "sem"];
const shared = { mutex: locks.mutex.share(), rw: locks.rw.share(), sem: locks.sem.share(), sections };
const names = new Map([[Engine.threadId, "page"]]);
const workers = new Map(); // name -> Worker
let made = 0;

function spawn() {
  const name = `w${++made}`;
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name });
  workers.set(name, w);
  w.onmessage = ({ data }) => {
    if (data.type === "ready") {
      names.set(data.threadId, name);
      log(`${name} started (thread ${data.threadId})`);
    } else if (data.type === "abandoned") {
      log(`${name} got the ${data.lock}: abandoned (its previous holder ended while holding it)`, "abandoned");
    }
  };
  w.onerror = (e) => log(`${name} error: ${e.message}`, "err");
  w.postMessage(shared);
  document.getElementById("workers-count").textContent = String(workers.size);
}

function who(entry) {
  const name = names.get(entry.threadId) ?? `thread ${entry.threadId}`;
  return entry.mode === "exclusive" ? name : `${name} ${entry.mode}${entry.weight > 1 ? `×${entry.weight}` : ""}`;
}

function tags(entries) {
  return entries.map((e) => `<span class="tag ${e.mode}" data-thread="${e.threadId}">${who(e)}</span>`).join("");
}

let last = { t: performance.now(), counts: [0, 0, 0] };
const rates = [0, 0, 0];
function render() {
  const now = performance.now();
  if (now - last.t >= 1000) {
    const counts = KEYS.map((_, i) => Atomics.load(sections, i));
    for (let i = 0; i < 3; i++) rates[i] = Math.round(((counts[i] - last.counts[i]) * 1000) / (now - last.t));
    last = { t: now, counts };
  }
  KEYS.forEach((key, i) => {
    const row = document.querySelector(`tr[data-lock="${key}"]`);
    const q = locks[key].query();
    row.querySelector('[data-field="holders"]').innerHTML = tags(q.held) || "—";
    row.querySelector('[data-field="pending"]').innerHTML = tags(q.pending) || "—";
    row.querySelector('[data-field="rate"]').textContent = String(rates[i]);
  });
  status.textContent = `running: ${workers.size} workers, ${KEYS.map((k, i) => `${k} ${Atomics.load(sections, i)}`).join(", ")} sections so far`;
}

document.getElementById("kill-mutex-holder").onclick = () => {
  const holder = locks.mutex.query().held[0];
  const name = holder && names.get(holder.threadId);
  if (!name || !workers.has(name)) {
    log("nobody (or the page) holds the mutex right now: try again");
    return;
  }
  workers.get(name).terminate();
  workers.delete(name);
  document.getElementById("workers-count").textContent = String(workers.size);
  log(`terminated ${name} while it held the mutex`);
};
document.getElementById("spawn").onclick = spawn;

for (let i = 0; i < 4; i++) spawn();
setInterval(render, 100);
render();
