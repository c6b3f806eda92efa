// Firefox with no automation session, for test/browser.test.ts and
// repro-firefox-nested-worker.mjs: `--headless` on a fresh profile, one URL.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PREFS = [
  ["app.update.disabledForTesting", true],
  ["browser.shell.checkDefaultBrowser", false],
  ["browser.startup.homepage_override.mstone", '"ignore"'],
  ["datareporting.policy.dataSubmissionEnabled", false],
  ["toolkit.telemetry.reportingpolicy.firstRun", false],
];

/** Starts `executable` on `url`. exited: resolves with its exit code (null if it
 *  could not start); stop(): SIGTERM, SIGKILL 5 s later if need be, then the
 *  profile is removed. */
export function plainFirefox(executable, url) {
  const profile = mkdtempSync(join(tmpdir(), "ringlock-firefox-"));
  writeFileSync(join(profile, "user.js"), PREFS.map(([k, v]) => `user_pref("${k}", ${v});\n`).join(""));
  const ff = spawn(executable, ["--headless", "--no-remote", "--profile", profile, url], { stdio: "ignore" });
  const exited = new Promise((resolve) => {
    ff.once("exit", resolve);
    ff.once("error", () => resolve(null));
  });
  return {
    exited,
    async stop() {
      ff.kill();
      const hard = setTimeout(() => ff.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(hard);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
