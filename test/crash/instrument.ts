// Builds the crash-point engine: the release wasm with a call to the import
// crash.point() before every store, read-modify-write and bulk memory write,
// at every function entry and at every loop header. The test's point() counts
// the calls and throws at the k-th: the throw unwinds the wasm frames and
// leaves shared memory exactly as a thread stopped there would.
// The transform works on binaryen's folded text, parsed as s-expressions.
import binaryen from "binaryen";

type Sexp = string | Sexp[];

function parse(text: string): Sexp[] {
  const stack: Sexp[][] = [[]];
  const re = /\s+|;;[^\n]*|\(;[\s\S]*?;\)|"(?:[^"\\]|\\.)*"|\(|\)|[^\s()";]+/g;
  for (const m of text.matchAll(re)) {
    const tok = m[0];
    if (/^\s/.test(tok) || tok.startsWith(";;") || tok.startsWith("(;")) continue;
    if (tok === "(") {
      const list: Sexp[] = [];
      stack[stack.length - 1].push(list);
      stack.push(list);
    } else if (tok === ")") {
      stack.pop();
    } else {
      stack[stack.length - 1].push(tok);
    }
  }
  return stack[0];
}

function print(e: Sexp): string {
  return typeof e === "string" ? e : `(${e.map(print).join(" ")})`;
}

const CALL: Sexp = ["call", "$__crash_point"];
const HEADER = new Set(["type", "param", "result", "local", "export", "import"]);

function isWrite(head: string): "none" | "i32" | "i64" | null {
  if (/^(i32|i64|f32|f64)\.(atomic\.)?store(8|16|32)?$/.test(head)) return "none";
  if (head === "memory.fill" || head === "memory.copy") return "none";
  const rmw = /^(i32|i64)\.atomic\.rmw/.exec(head);
  if (rmw) return rmw[1] as "i32" | "i64";
  return null;
}

// Returns the instrumented expression; counts points in `n`.
function walk(e: Sexp, n: { points: number }, parent: string): Sexp {
  if (typeof e === "string") return e;
  const head0 = e[0];
  const kids = e.map((k) => walk(k, n, typeof head0 === "string" ? head0 : ""));
  const head = kids[0];
  if (typeof head !== "string") return kids;
  if ((head === "func" && parent === "module") || head === "loop") {
    // Insert after the name/label and the header lists.
    let at = 1;
    while (at < kids.length) {
      const k = kids[at];
      if (typeof k === "string" && k.startsWith("$")) at++;
      else if (Array.isArray(k) && typeof k[0] === "string" && HEADER.has(k[0])) at++;
      else break;
    }
    if (head === "func" && kids.some((k) => Array.isArray(k) && k[0] === "import")) return kids;
    n.points++;
    return [...kids.slice(0, at), CALL, ...kids.slice(at)];
  }
  const w = isWrite(head);
  if (w === null) return kids;
  n.points++;
  return w === "none" ? ["block", CALL, kids] : ["block", ["result", w], CALL, kids];
}

/** The instrumented module's bytes and how many instrumentation sites it has. */
export function instrument(bytes: Uint8Array): { wasm: Uint8Array; sites: number } {
  const mod = binaryen.readBinary(bytes);
  mod.setFeatures(binaryen.Features.All);
  const text = mod.emitText();
  mod.dispose();
  const [root] = parse(text) as Sexp[][];
  const n = { points: 0 };
  const out = root.map((k) => walk(k, n, "module"));
  // The import goes first among the module's fields.
  out.splice(1, 0, ["import", '"crash"', '"point"', ["func", "$__crash_point"]]);
  const inst = binaryen.parseText(print(out));
  inst.setFeatures(binaryen.Features.All);
  if (!inst.validate()) throw new Error("instrumented engine does not validate");
  const wasm = inst.emitBinary();
  inst.dispose();
  return { wasm, sites: n.points };
}
