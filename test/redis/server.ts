// A real redis-server for the Redis tests: started on a free 127.0.0.1 port
// (no persistence unless asked), stopped by pid at the end. No mocks.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis, { type RedisOptions } from "ioredis";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export interface ServerOptions {
  /** appendonly yes, appendfsync always, in a directory kept across restart(). */
  persistent?: boolean;
}

export class RedisServer {
  port = 0;
  dir: string;
  #proc: ChildProcess | undefined;
  readonly #persistent: boolean;
  readonly #clients: Redis[] = [];

  constructor(o: ServerOptions = {}) {
    this.#persistent = o.persistent === true;
    this.dir = mkdtempSync(join(tmpdir(), "ringlock-redis-"));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", ""];
    args.push(...(this.#persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]));
    const p = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = p;
    // If this test process ends without stop() (a hook timed out), the server goes with it.
    const orphan = () => p.kill("SIGKILL");
    process.once("exit", orphan);
    p.once("exit", () => process.off("exit", orphan));
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      p.stdout?.on("data", (d) => {
        out += d;
        if (out.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      p.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out}`));
      });
    });
    p.stdout?.resume();
  }

  /** Kills the server (SIGKILL: a crash; with appendfsync always nothing acknowledged is lost). */
  async kill(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (p === undefined || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await gone;
  }

  /** A client that fails fast while the server is down (no offline queue, one retry per call). */
  client(o: RedisOptions = {}): Redis {
    const c = new Redis({
      port: this.port,
      host: "127.0.0.1",
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      retryStrategy: () => 50,
      ...o,
    });
    c.on("error", () => {});
    this.#clients.push(c);
    return c;
  }

  async stop(): Promise<void> {
    for (const c of this.#clients) c.disconnect();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
