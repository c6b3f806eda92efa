// Builds one function per (scenario, library) from the library's snippets
// (bench/peers/index.js). Each generated function is a distinct function
// literal, so V8 keeps separate type feedback for it: the loop that measures
// library A is never polymorphic because library B ran through it too.
//
// Instrumented cells (everything with more than one task) record, in the same
// statement sequence for every library:
//   ticket   `const t = P.seq++` right before the request is made
//   grant    `P.order[P.n++] = t` as the first thing the holder does
//   exclusion  Atomics counters in X, entered after the grant and left before
//              the release (see enter/exit below); P.bad counts violations
// bench/lib/stats.js turns P.order into overtakes after the run.

import { HELPERS } from "../peers/index.js";

function compile(name, src) {
  const label = name.replace(/[^A-Za-z0-9_.-]+/g, "_");
  return new Function("H", `"use strict";\n${src}\n//# sourceURL=bench-cell/${label}.js`)(HELPERS);
}

const GRANT = "P.order[P.n++] = t;";

/** Code that holds the lock around `body` using either the acquire/release or the callback form. */
function holding(spec, body, ms) {
  if (spec.acq !== undefined) {
    const acq = typeof spec.acq === "function" ? spec.acq(ms) : spec.acq;
    return `${acq}\n${body}\n${spec.rel}`;
  }
  return spec.run(body, /\bawait\b/.test(body), ms);
}

/** 1a: `await acquire(); release()` in one task, n times. */
export function uncontended(name, spec) {
  return compile(
    name,
    `return async function cell(L, n) {
      for (let i = 0; i < n; i++) {
        ${spec.acq}
        ${spec.rel}
      }
    };`,
  );
}

/** 1b: the callback form with an empty body, n times. */
export function callback(name, spec) {
  return compile(
    name,
    `return async function cell(L, n) {
      for (let i = 0; i < n; i++) {
        ${spec.run("", false)}
      }
    };`,
  );
}

/** 2: synchronous try-acquire + release, n times. */
export function tryLoop(name, spec) {
  return compile(
    name,
    `return function cell(L, n) {
      for (let i = 0; i < n; i++) {
        ${spec.try}
        ${spec.rel}
      }
    };`,
  );
}

const MUTEX_ENTER = "if (Atomics.add(X, 0, 1) !== 0) P.bad++;";
const MUTEX_EXIT = "Atomics.sub(X, 0, 1);";

function tasks(name, perRequest) {
  return compile(
    name,
    `async function task(L, P, X, K, j, k) {
      for (let i = 0; i < k; i++) {
        ${perRequest}
      }
    }
    return async function cell(L, P, X, K, tasks, k) {
      const all = [];
      for (let j = 0; j < tasks; j++) all.push(task(L, P, X, K, j, k));
      await Promise.all(all);
    };`,
  );
}

/** 3 and 6: `tasks` tasks x k sections on one mutex; `inner` runs while held ("" or "await null;"). */
export function contended(name, spec, inner, ms) {
  return tasks(name, `const t = P.seq++;\n${holding(spec, `${GRANT} ${MUTEX_ENTER} ${inner} ${MUTEX_EXIT}`, ms)}`);
}

/** 4a: counting semaphore of `limit`, unit requests. */
export function sema(name, spec, limit, inner) {
  const enter = `if (Atomics.add(X, 0, 1) >= ${limit}) P.bad++;`;
  return tasks(name, `const t = P.seq++;\n${holding(spec, `${GRANT} ${enter} ${inner} ${MUTEX_EXIT}`)}`);
}

/** 4b: weighted requests; K holds each request's weight. */
export function weighted(name, spec, limit, inner) {
  const enter = `if (Atomics.add(X, 0, w) + w > ${limit}) P.bad++;`;
  const exit = "Atomics.sub(X, 0, w);";
  return tasks(
    name,
    `const w = K[j * k + i];\nconst t = P.seq++;\n${holding(spec, `${GRANT} ${enter} ${inner} ${exit}`)}`,
  );
}

/** 5a: readers-writer; K[j*k+i] is 1 for a write, 0 for a read. X[0] readers, X[1] writers. */
export function rw(name, spec, inner) {
  const rBody = `${GRANT} Atomics.add(X, 0, 1); if (Atomics.load(X, 1) !== 0) P.bad++; ${inner} Atomics.sub(X, 0, 1);`;
  const wBody = `${GRANT} if (Atomics.add(X, 1, 1) !== 0 || Atomics.load(X, 0) !== 0) P.bad++; ${inner} Atomics.sub(X, 1, 1);`;
  const isAsync = /\bawait\b/.test(inner);
  const read = spec.read !== undefined ? `${spec.read}\n${rBody}\n${spec.rel}` : spec.runRead(rBody, isAsync);
  const write = spec.write !== undefined ? `${spec.write}\n${wBody}\n${spec.rel}` : spec.runWrite(wBody, isAsync);
  return tasks(name, `const t = P.seq++;\nif (K[j * k + i] === 1) {\n${write}\n} else {\n${read}\n}`);
}

/** 5b: a lock with modes; K holds each request's mode index; X[m] counts holders of mode m. */
export function modes(name, spec, inner) {
  const enter = `Atomics.add(X, m, 1);
    const c = H.CONF[m];
    for (let q = 0; q < 5; q++) if ((c >> q) & 1 && Atomics.load(X, q) > (q === m ? 1 : 0)) P.bad++;`;
  return tasks(
    name,
    `const m = K[j * k + i];\nconst t = P.seq++;\n${spec.acq}\n${GRANT} ${enter} ${inner} Atomics.sub(X, m, 1);\n${spec.rel}`,
  );
}

/**
 * 7: hold the lock, queue N waiters that each release on grant, count grants
 * in C (enqueue); or queue N bare requests, keeping only what the library
 * returns in the preallocated P (bare: the memory pass, which never drains).
 */
export function drain(name, spec) {
  const done = "if (++C.n === C.N) C.done();";
  const bare = spec.enq.replace(".then(ON)", "").replace(/;\s*$/, "");
  return compile(
    name,
    `return {
      hold: async function hold(L) { ${spec.hold} },
      enqueue: function enqueue(L, C, N) {
        ${spec.pre ?? ""}
        const ON = ${spec.on.replace("DONE", done)};
        for (let i = 0; i < N; i++) { ${spec.enq} }
      },
      bare: function bare(L, C, N, P) {
        ${spec.pre ?? ""}
        const ON = ${spec.on.replace("DONE", done)};
        for (let i = 0; i < N; i++) { P[i] = ${bare}; }
      },
    };`,
  );
}
