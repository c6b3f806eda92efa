// share() / from() within one thread: the descriptor's shape, identity, and
// refusal of anything that is not a live lock of the same engine and kind.
import { describe, expect, it } from "vitest";
import { H_MAGIC, H_VERSION, LAYOUT_VERSION, MAGIC_VALUE } from "../assembly/layout.js";
import { Engine, FifoLock, Mutex, RWLock, Semaphore } from "../bindings/index.js";

describe("share() and from()", () => {
  it("give back the very same lock object in the thread that shared it", () => {
    const m = new Mutex();
    expect(Mutex.from(m.share())).toBe(m);
    const rw = new RWLock();
    expect(RWLock.from(rw.share())).toBe(rw);
    const s = new Semaphore(3);
    expect(Semaphore.from(s.share())).toBe(s);
    const f = new FifoLock({ a: { conflicts: ["b"] }, b: { limit: 2 } });
    expect(FifoLock.from(f.share())).toBe(f);
  });

  it("produce a structured-clonable value, and a clone of it names the same lock", () => {
    const engine = new Engine();
    const m = new Mutex({ engine });
    const copy = structuredClone(m.share());
    const again = Mutex.from(copy);
    expect(again).toBe(m);
    const g = m.tryAcquire();
    expect(again.locked).toBe(true);
    g?.release();
  });

  it("carry the mode table of a FifoLock", () => {
    const f = new FifoLock({ r: { conflicts: ["w"] }, w: { conflicts: ["w"], limit: 1 } });
    const shared = f.share();
    expect(shared.modes.map((m) => m.name)).toEqual(["r", "w"]);
    expect(shared.modes[0].conflicts).toBe(0b10);
    expect(shared.modes[1].conflicts).toBe(0b11);
  });

  it("refuse a descriptor of another kind of lock with a TypeError", () => {
    const m = new Mutex();
    expect(() => RWLock.from(m.share())).toThrow(TypeError);
    expect(() => RWLock.from(m.share())).toThrow(/RWLock.from was given a shared Mutex/);
  });

  it("refuse values that are not descriptors", () => {
    expect(() => Mutex.from(undefined as never)).toThrow(/expects the value returned by share\(\)/);
    expect(() => Mutex.from({} as never)).toThrow(TypeError);
    expect(() => Engine.from({ ringlock: "engine", memory: {} } as never)).toThrow(TypeError);
  });

  it("refuse a memory that does not hold a ringlock engine (bad magic or layout version)", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    expect(() => Engine.from({ ringlock: "engine", memory, debug: false })).toThrow(/bad magic or layout version/);
    // Right magic, wrong layout version.
    const i32 = new Int32Array(memory.buffer);
    i32[H_MAGIC >> 2] = MAGIC_VALUE;
    i32[H_VERSION >> 2] = LAYOUT_VERSION + 1;
    expect(() => Engine.from({ ringlock: "engine", memory, debug: false })).toThrow(/bad magic or layout version/);
    i32[H_VERSION >> 2] = LAYOUT_VERSION;
    i32[H_MAGIC >> 2] = MAGIC_VALUE + 1;
    expect(() => Engine.from({ ringlock: "engine", memory, debug: false })).toThrow(TypeError);
  });

  it("refuse a corrupted lock address", () => {
    const m = new Mutex();
    const shared = m.share();
    expect(() => Mutex.from({ ...shared, ptr: shared.ptr + 4 })).toThrow(/corrupted descriptor/);
    expect(() => Mutex.from({ ...shared, ptr: 1 << 30 })).toThrow(/corrupted descriptor/);
    const f = new FifoLock({ a: { limit: 2 }, b: {} });
    const fs = f.share();
    expect(() => FifoLock.from({ ...fs, modes: [fs.modes[0]] })).toThrow(/corrupted descriptor/);
    expect(() => FifoLock.from({ ...fs, modes: [fs.modes[1], fs.modes[0]] })).toThrow(/corrupted descriptor/);
  });

  it("let a guarded value travel only if it lives in shared memory", () => {
    const shared = new Mutex({ value: new Int32Array(new SharedArrayBuffer(8)) }).share();
    expect(shared.value).toBeInstanceOf(Int32Array);
    expect(() => new Mutex({ value: { balance: 1 } }).share()).toThrow(TypeError);
    expect(() => new RWLock({ value: new ArrayBuffer(8) }).share()).toThrow(/SharedArrayBuffer/);
    expect(new RWLock({ value: new DataView(new SharedArrayBuffer(8)) }).share().value).toBeInstanceOf(DataView);
  });

  it("refuse a disposed lock", () => {
    const m = new Mutex();
    m.dispose();
    expect(() => m.share()).toThrow(/disposed/);
    expect(() => m.tryAcquire()).toThrow(/disposed/);
  });
});
