// Named locks: binds a name to a lock of the engine's name registry
// (assembly/names.ts), the same lock in every thread of the engine. A name is
// bound to one kind of lock and one mode table; asking for it as another is a
// TypeError naming both.

import {
  E_CHARS,
  E_HASH,
  E_KIND,
  E_LEN,
  E_MORE,
  E_MORE_CHARS,
  E_XKIND,
  E_XLIMIT,
  E_XMODES,
  ERR_NOMEM,
  ERR_RETRY,
  ERR_SHAPE,
  NAME_FIRST_UNITS,
  NAME_MORE_UNITS,
} from "../assembly/layout.js";
import type { Engine } from "./engine.js";
import { engineError, typeError } from "./errors.js";

// Kind codes kept in a name entry. LockManager is the Web Locks API (locks.ts).
const KINDS = ["", "Mutex", "RWLock", "Semaphore", "FifoLock", "LockManager"];

/** @internal What a lock asks a name for. */
export interface NameShape {
  kind: string;
  modes: number;
  firstLimit: number;
}

function describe(kind: string, modes: number, firstLimit: number): string {
  if (kind === "Semaphore") return `a Semaphore(${firstLimit})`;
  if (kind === "FifoLock") return `a FifoLock with ${modes === 1 ? "1 mode" : `${modes} modes`} (another table)`;
  if (kind === "LockManager") return "a Web Locks name (locks.request)";
  return kind === "RWLock" ? "an RWLock" : `a ${kind}`;
}

// FNV-1a over the UTF-16 code units: the engine compares the units; the hash
// only picks the bucket and skips most mismatches.
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** @internal Calls visit(at, i) with the Uint16Array index `at` of code unit
 *  i of the name in entry `en`, for i < len (the first block, then overflow blocks). */
export function nameUnits(i32: Int32Array, en: number, len: number, visit: (at: number, i: number) => void): void {
  let at = (en + E_CHARS) >> 1;
  let room = NAME_FIRST_UNITS;
  let block = en;
  for (let i = 0; i < len; i++) {
    if (room === 0) {
      block = i32[(block + E_MORE) >> 2];
      at = (block + E_MORE_CHARS) >> 1;
      room = NAME_MORE_UNITS;
    }
    visit(at++, i);
    room--;
  }
}

/** @internal Binds `name` to a lock on `table` (creating it if the name is
 *  free) and returns a handle of this thread on it, or ERR_RETRY when the
 *  engine is busy. Throws a TypeError if the name is bound to another shape. */
export function bindName(e: Engine, name: string, shape: NameShape, table: number): number {
  const len = name.length;
  const buf = e.x.nameAlloc(e.thr, len);
  if (buf === ERR_RETRY) return buf;
  if (buf === 0) throw engineError(ERR_NOMEM, e.maxMemoryBytes);
  const i32 = e.refresh();
  const u16 = new Uint16Array(i32.buffer);
  i32[(buf + E_HASH) >> 2] = hashName(name);
  i32[(buf + E_LEN) >> 2] = len;
  i32[(buf + E_KIND) >> 2] = KINDS.indexOf(shape.kind);
  nameUnits(i32, buf, len, (at, i) => {
    u16[at] = name.charCodeAt(i);
  });
  const h = e.x.nameBind(e.thr, table);
  if (h === ERR_SHAPE) {
    const now = e.refresh();
    const was = describe(KINDS[now[(buf + E_XKIND) >> 2]], now[(buf + E_XMODES) >> 2], now[(buf + E_XLIMIT) >> 2]);
    throw typeError(
      `the name ${JSON.stringify(name)} is bound to ${was}; it was asked for as ${describe(shape.kind, shape.modes, shape.firstLimit)}`,
    );
  }
  if (h === 0) throw engineError(ERR_NOMEM, e.maxMemoryBytes);
  return h;
}
