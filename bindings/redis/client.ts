// The Redis client is the user's: ioredis, its fork iovalkey, or node-redis
// (v4 and later). This file owns the little ringlock needs from one: run a
// script by SHA (EVALSHA, falling back to EVAL when the server's script cache
// lost it), and a second connection for pub/sub wake-ups. Nothing here imports
// a Redis package; the client is recognised by its shape.

import { LockError } from "../errors.js";
import type { Script } from "./scripts.js";

/** What ringlock calls on a Redis connection. */
export interface RedisAdapter {
  /** Runs a script atomically on the server (EVALSHA, EVAL on NOSCRIPT). */
  run(s: Script, keys: string[], args: (string | number)[]): Promise<unknown>;
  /** A new connection for pub/sub (closed by close()). */
  subscriber(events: SubscriberEvents): Promise<Subscriber>;
}

export interface SubscriberEvents {
  message(channel: string, message: string): void;
  /** The connection came back after a drop: messages sent meanwhile are lost. */
  reconnected(): void;
}

export interface Subscriber {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  close(): Promise<void>;
}

// The structural shapes of the clients ringlock accepts (not their full types).
interface IoRedisLike {
  status: string;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(source: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  duplicate(): IoRedisLike;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: string, fn: (...a: never[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

interface NodeRedisLike {
  isOpen: boolean;
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: string, fn: (...a: never[]) => void): unknown;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
}

/** An ioredis or iovalkey client (`new Redis(url)`), or a connected node-redis client (`createClient()`). */
export type RedisClientLike = object;

function isNoScript(err: unknown): boolean {
  return err instanceof Error && /^NOSCRIPT/.test(err.message);
}

/** The error a failed Redis call rejects with: the client's error as `cause`. */
export function redisError(err: unknown): LockError {
  if (err instanceof LockError) return err;
  const e = new LockError(
    "ERR_RINGLOCK_REDIS",
    `ringlock: Redis call failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  (e as { cause?: unknown }).cause = err;
  return e;
}

/** Recognises the user's client and wraps it. */
export function adapt(client: RedisClientLike): RedisAdapter {
  const c = client as Partial<IoRedisLike & NodeRedisLike>;
  if (typeof c.status === "string" && typeof c.evalsha === "function" && typeof c.duplicate === "function") {
    return ioredisAdapter(client as IoRedisLike);
  }
  if (typeof c.isOpen === "boolean" && typeof c.sendCommand === "function" && typeof c.duplicate === "function") {
    return nodeRedisAdapter(client as NodeRedisLike);
  }
  throw new TypeError(
    "ringlock: RedisLocks needs an ioredis or iovalkey client (new Redis(url)) or a node-redis client (createClient())",
  );
}

function ioredisAdapter(c: IoRedisLike): RedisAdapter {
  return {
    async run(s, keys, args) {
      try {
        return await c.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        return await c.eval(s.source, keys.length, ...keys, ...args);
      }
    },
    async subscriber(events) {
      const sub = c.duplicate();
      let ready = false;
      sub.on("message", ((channel: string, message: string) => events.message(channel, message)) as never);
      sub.on("ready", (() => {
        if (ready) events.reconnected();
        ready = true;
      }) as never);
      // Errors surface as failed calls; an unhandled 'error' event would crash the process.
      sub.on("error", (() => {}) as never);
      return {
        async subscribe(channel) {
          await sub.subscribe(channel);
        },
        async unsubscribe(channel) {
          await sub.unsubscribe(channel);
        },
        async close() {
          try {
            await sub.quit();
          } catch {
            sub.disconnect();
          }
        },
      };
    },
  };
}

function nodeRedisAdapter(c: NodeRedisLike): RedisAdapter {
  const call = (args: (string | number)[]) => c.sendCommand(args.map(String));
  return {
    async run(s, keys, args) {
      try {
        return await call(["EVALSHA", s.sha, keys.length, ...keys, ...args]);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        return await call(["EVAL", s.source, keys.length, ...keys, ...args]);
      }
    },
    async subscriber(events) {
      const sub = c.duplicate();
      let ready = false;
      sub.on("ready", (() => {
        if (ready) events.reconnected();
        ready = true;
      }) as never);
      sub.on("error", (() => {}) as never);
      await sub.connect();
      return {
        async subscribe(channel) {
          await sub.subscribe(channel, (message, ch) => events.message(ch, message));
        },
        async unsubscribe(channel) {
          await sub.unsubscribe(channel);
        },
        async close() {
          if (typeof sub.close === "function") await sub.close();
          else if (typeof sub.quit === "function") await sub.quit();
          else sub.destroy?.();
        },
      };
    },
  };
}
