import { readFileSync } from "node:fs";
import binaryen from "binaryen";
import { describe, expect, it } from "vitest";

// Section ids of the WebAssembly binary format.
const START = 8;
const DATA = 11;
const DATACOUNT = 12;
const IMPORT = 2;

function sections(bytes: Uint8Array): { id: number; body: Uint8Array }[] {
  const out: { id: number; body: Uint8Array }[] = [];
  let i = 8; // magic + version
  const leb = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++];
      v |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v >>> 0;
      shift += 7;
    }
  };
  while (i < bytes.length) {
    const id = bytes[i++];
    const size = leb();
    out.push({ id, body: bytes.subarray(i, i + size) });
    i += size;
  }
  return out;
}

describe.each(["ringlock.wasm", "ringlock.debug.wasm"])("the built %s", (name) => {
  const bytes = new Uint8Array(readFileSync(new URL(`../build/${name}`, import.meta.url)));
  const ids = sections(bytes).map((s) => s.id);

  it("has no start, data or datacount section (every thread instantiates it over the same memory)", () => {
    expect(ids).not.toContain(START);
    expect(ids).not.toContain(DATA);
    expect(ids).not.toContain(DATACOUNT);
  });

  it("imports a shared memory and the host's bounded wait, nothing else", () => {
    const mod = new WebAssembly.Module(bytes);
    const imports = WebAssembly.Module.imports(mod).sort((a, b) => a.name.localeCompare(b.name));
    expect(imports).toEqual([
      { module: "env", name: "memory", kind: "memory" },
      { module: "env", name: "sleep", kind: "function" },
    ]);
    expect(ids.filter((id) => id === IMPORT)).toHaveLength(1);
  });

  it("never waits on an atomic itself (memory.atomic.wait32 is miscompiled by Node 20's Liftoff)", () => {
    const mod = binaryen.readBinary(bytes);
    mod.setFeatures(binaryen.Features.All);
    const text = mod.emitText();
    mod.dispose();
    expect(text).toContain("memory.atomic.notify");
    expect(text).not.toMatch(/memory\.atomic\.wait/);
  });
});
