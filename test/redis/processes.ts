// Child processes running test/redis/agent.mjs (the built package), killed by
// pid at the end of each test: only the processes a test started.

import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const AGENT = fileURLToPath(new URL("./agent.mjs", import.meta.url));

export interface Agent {
  proc: ChildProcess;
  /** Resolves with the next message of this type (rejects on an "error" message or exit first). */
  next(type: string, ms?: number): Promise<Record<string, unknown>>;
  send(msg: string): void;
}

const started: ChildProcess[] = [];

export function agent(options: Record<string, unknown>): Agent {
  const proc = fork(AGENT, [JSON.stringify(options)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  started.push(proc);
  const inbox: Record<string, unknown>[] = [];
  const wanted: { type: string; resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  const deliver = () => {
    for (let i = 0; i < wanted.length; i++) {
      const w = wanted[i];
      const err = inbox.findIndex((m) => m.type === "error");
      if (err >= 0) {
        w.reject(new Error(`agent failed: ${String(inbox[err].error)}`));
        wanted.splice(i--, 1);
        continue;
      }
      const at = inbox.findIndex((m) => m.type === w.type);
      if (at >= 0) {
        w.resolve(inbox.splice(at, 1)[0]);
        wanted.splice(i--, 1);
      }
    }
  };
  proc.on("message", (m) => {
    inbox.push(m as Record<string, unknown>);
    deliver();
  });
  // "close", not "exit": by then every message the agent sent has been delivered.
  let closed = false;
  proc.on("close", (code, signal) => {
    closed = true;
    for (const w of wanted.splice(0)) w.reject(new Error(`agent exited (${code ?? signal}) before sending ${w.type}`));
  });
  return {
    proc,
    next(type, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${type}' from the agent within ${ms} ms`)), ms);
        wanted.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        deliver();
        // Closed (every message it sent delivered) and not in the inbox: never coming.
        const at = wanted.findIndex((w) => w.type === type);
        if (closed && at >= 0) {
          wanted.splice(at, 1);
          clearTimeout(timer);
          reject(new Error(`agent already exited before sending ${type}`));
        }
      });
    },
    send(msg) {
      proc.send(msg);
    },
  };
}

/** Ends every agent still running (SIGCONT first, in case one was stopped). */
export function killAgents(): void {
  for (const p of started.splice(0)) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill("SIGCONT");
    p.kill("SIGKILL");
  }
}
