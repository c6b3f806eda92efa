// Runs a suite in a child process with a time limit and returns the message it
// sends back over IPC. A child that hangs is killed (by its pid: only the
// processes this module started) and reported, not waited for.

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * @param {string} script   path relative to bench/
 * @param {string[]} args
 * @param {{ execPath?: string, execArgv?: string[], timeoutMs: number, quiet?: boolean }} o
 * @returns {Promise<{ messages: any[], message?: any, error?: string, code?: number|null, stderrTail: string, ms: number }>}
 */
export function runChild(script, args, o) {
  const file = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = fork(file, args, {
      execPath: o.execPath ?? process.execPath,
      execArgv: o.execArgv ?? [],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    const messages = [];
    let tail = "";
    let timedOut = false;
    const keep = (chunk) => {
      tail = (tail + chunk).slice(-2000);
    };
    child.stdout.on("data", (d) => {
      if (!o.quiet) process.stderr.write(d);
      keep(d);
    });
    child.stderr.on("data", (d) => {
      if (!o.quiet) process.stderr.write(d);
      keep(d);
    });
    child.on("message", (m) => {
      messages.push(m);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, o.timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      let error;
      if (timedOut) error = `hang: killed after ${Math.round(o.timeoutMs / 1000)} s`;
      else if (messages.length === 0) error = `exited (code ${code}, signal ${signal}) without a result`;
      resolve({ messages, message: messages.at(-1), error, code, stderrTail: tail, ms });
    });
  });
}
