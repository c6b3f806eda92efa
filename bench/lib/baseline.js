// The baseline build: an older ringlock (`--baseline=<path to its
// dist/bindings/index.js>`, or RINGLOCK_BASELINE) measured as one more library
// next to the current build, in the same processes and interleaving, so that a
// run can say how the current engine compares with the old one (new ÷ old).
// run.js forwards the option, as an absolute path, to the suites it starts.

import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { options } from "./util.js";

const given = options().baseline ?? process.env.RINGLOCK_BASELINE;
if (given === true) throw new Error("--baseline needs a path: --baseline=<path to a ringlock dist/bindings/index.js>");

function describe(file) {
  // dist/bindings/index.js: the package root is two levels up.
  const root = path.resolve(path.dirname(file), "../..");
  let version = "?";
  try {
    version = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).version;
  } catch {}
  return { path: file, url: pathToFileURL(file).href, root, version };
}

/** { path, url, root, version } of the baseline build, or undefined when none was given. */
export const BASELINE = given ? describe(path.resolve(given)) : undefined;

/** The baseline build's exports (Engine, Mutex, ...), or undefined. */
export const baseline = BASELINE ? await import(BASELINE.url) : undefined;
