// ringlock: strict-FIFO locks on a WebAssembly engine over shared memory.

export { Barrier, type BarrierResult, BrokenBarrierError, Latch } from "./barrier.js";
export {
  type Borrower,
  type CapacityAcquireOptions,
  CapacityLimiter,
  type CapacityLimiterOptions,
} from "./capacity.js";
export { Condition, type SharedCondition } from "./condition.js";
export { Engine, type EngineOptions, type SharedEngine } from "./engine.js";
export { LockError, TimeoutError } from "./errors.js";
export { CountdownEvent, Event, Notify } from "./event.js";
export type {
  AcquireOptions,
  Guard,
  LockOptions,
  LockState,
  ModeSpec,
  ModeTable,
  QueryEntry,
  SharedLock,
  WeightedAcquireOptions,
} from "./lock.js";
export {
  Lock,
  type LockGrantedCallback,
  type LockInfo,
  LockManager,
  type LockManagerSnapshot,
  type LockMode,
  type LockOptions as WebLockOptions,
  locks,
} from "./locks.js";
export { FifoLock, type GuardedOptions, Mutex, RWLock, Semaphore } from "./presets.js";
export type { WakerKind } from "./waker.js";
