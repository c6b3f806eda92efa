// ringlock/redis: the same strict-FIFO locks on Redis (or Valkey), with
// leases and fencing tokens. The Redis client is the user's (ioredis,
// iovalkey or node-redis); nothing here imports one.
export { LockError, TimeoutError } from "../errors.js";
export type { AcquireOptions, ModeSpec, ModeTable, WeightedAcquireOptions } from "../lock.js";
export type { RedisClientLike } from "./client.js";
export type { RedisLockCore, RedisLockState, RedisQueryEntry } from "./core.js";
export type { RedisGuard } from "./lease.js";
export { RedisLocks, type RedisLocksOptions, type RequestOptions } from "./locks.js";
export { RedisFifoLock, RedisMutex, RedisRWLock, RedisSemaphore } from "./presets.js";
