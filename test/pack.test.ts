// The package as users get it: npm pack, install the tarball into an empty
// project, and use it from there (the wasm must load synchronously from it).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "ringlock-pack-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("installs from its tarball and works without an await before new Mutex()", () => {
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], {
    cwd: root,
    encoding: "utf8",
  });
  const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  expect(tgz, out).toBeDefined();
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", join(dir, tgz as string)], { cwd: dir });
  writeFileSync(
    join(dir, "use.mjs"),
    `import { Mutex, Semaphore } from "ringlock";
const m = new Mutex();
const g = m.tryAcquire();
const waiter = m.acquire().then((g2) => { const was = m.locked; g2.release(); return was; });
g.release();
const s = new Semaphore(2);
console.log(JSON.stringify({ lockedAfterHandoff: await waiter, locked: m.locked, available: s.available }));
`,
  );
  const result = execFileSync(process.execPath, ["use.mjs"], { cwd: dir, encoding: "utf8" });
  expect(JSON.parse(result)).toEqual({ lockedAfterHandoff: true, locked: false, available: 2 });
  // The published types: a TypeScript consumer compiles against them.
  writeFileSync(
    join(dir, "use.ts"),
    `import { Engine, FifoLock, type Guard, Mutex, RWLock, Semaphore, TimeoutError } from "ringlock";
const m = new Mutex<{ n: number }>({ value: { n: 1 } });
const shared = m.share();
const again: Mutex<{ n: number }> = Mutex.from(shared);
const waiting: number = m.waiting + again.waiting;
const f = new FifoLock({ r: { conflicts: ["w"] }, w: { conflicts: ["w"] } });
async function main(): Promise<void> {
  const g: Guard<{ n: number }> = await m.acquire({ timeout: 5 });
  g.value.n += waiting;
  g.release();
  const r = await new RWLock({ engine: new Engine({ spinMicros: 0 }) }).read();
  r.release();
  (await f.acquire("r")).release();
  new Semaphore(2).tryAcquire(2)?.release();
  m.dispose();
  console.log(new TimeoutError(1).name, f.query().held.length);
}
void main();
`,
  );
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const args = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext"];
  execFileSync(
    process.execPath,
    [tsc, ...args, "--target", "es2022", "--lib", "es2022,dom,esnext.disposable", "use.ts"],
    {
      cwd: dir,
      encoding: "utf8",
    },
  );
  const files = execFileSync("tar", ["-tzf", join(dir, tgz as string)], { encoding: "utf8" }).split("\n");
  // The engine is built into the JavaScript: no .wasm file is shipped or read.
  expect(files).toContain("package/dist/bindings/engine-wasm.js");
  expect(files).toContain("package/dist/bindings/index.d.ts");
  expect(files.some((f) => f.endsWith(".wasm") || f.startsWith("package/test/"))).toBe(false);
});
