// Turns the collected cells into ratios, flags and target checks, and renders
// the Markdown table (stdout), latest.json and a hand-written SVG chart.

import { fmtNs } from "./util.js";

const SINGLE_THREAD = ["1a", "1b", "2", "3a", "3b", "4a", "4b", "5a", "6", "7a", "7b"];

function fmtValue(v, unit) {
  if (v === undefined || !Number.isFinite(v)) return "-";
  if (unit === "ms") return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;
  if (unit.startsWith("B/")) return `${v.toFixed(0)} B`;
  return fmtNs(v);
}

function fmtRatio(r) {
  if (r === undefined || !Number.isFinite(r)) return "-";
  if (r < 0.01) return `${r.toFixed(4)}x`;
  if (r < 0.1) return `${r.toFixed(3)}x`;
  return `${r.toFixed(2)}x`;
}

/** Marks cells: ratio to the scenario's ringlock row, flags for overtakes, violations, errors. */
export function annotate(results) {
  const { scenarios, cells } = results;
  // A library is FIFO-correct when none of its instrumented single-thread
  // cells overtook or violated exclusion.
  const incorrect = new Map();
  for (const c of cells) {
    const why = [];
    if (!c.fairnessRacy && c.fairness?.overtaken > 0) why.push(`overtakes in ${c.scenario}`);
    if (c.violations > 0) why.push(`exclusion violated in ${c.scenario}`);
    if (why.length) incorrect.set(c.lib, [...(incorrect.get(c.lib) ?? []), ...why]);
  }
  for (const c of cells) {
    c.flags = [];
    if (c.violations > 0) c.flags.push(`EXCLUSION VIOLATED x${c.violations}`);
    if (c.fairness?.overtaken > 0 && !c.fairnessRacy) c.flags.push("NOT FIFO: overtakes");
    if (c.error) c.flags.push(c.error.startsWith("hang") ? "HANG" : `ERROR: ${c.error.slice(0, 80)}`);
    const ownFlag = (!c.fairnessRacy && c.fairness?.overtaken > 0) || c.violations > 0;
    if (incorrect.has(c.lib) && !ownFlag) {
      c.flags.push(`not FIFO-correct (${incorrect.get(c.lib)[0]})`);
    }
    c.fifoCorrect = !incorrect.has(c.lib);
  }
  for (const sc of scenarios) {
    const here = cells.filter((c) => c.scenario === sc.id);
    for (const c of here) {
      const ref = refCell(cells, sc, c);
      const v = c.summary?.median;
      const rv = ref?.summary?.median;
      c.ratio = ref && c !== ref && v > 0 && rv !== undefined ? rv / v : undefined;
      c.isRef = c === ref;
    }
  }
  results.incorrect = Object.fromEntries(incorrect);
  return results;
}

/** The ringlock row a cell is compared with: same scenario, and for worker cells the same Node. */
function refCell(cells, sc, c) {
  return cells.find(
    (r) =>
      r.scenario === sc.id &&
      r.kind === "ringlock" &&
      (sc.ref === "ringlock" ? r.lib === "ringlock.Mutex" : r.lib === sc.ref) &&
      (sc.group !== "workers" || r.node === c.node),
  );
}

function rowsOf(results, sc) {
  const kindOrder = { ringlock: 0, baseline: 1, peer: 2, floor: 3 };
  return results.cells
    .filter((c) => c.scenario === sc.id)
    .sort(
      (a, b) =>
        (b.isRef ? 1 : 0) - (a.isRef ? 1 : 0) ||
        kindOrder[a.kind] - kindOrder[b.kind] ||
        (a.summary?.median ?? Number.POSITIVE_INFINITY) - (b.summary?.median ?? Number.POSITIVE_INFINITY),
    );
}

function best(results, scId, pred) {
  let b;
  for (const c of results.cells) {
    if (c.scenario !== scId || c.kind !== "peer" || !pred(c) || c.summary === undefined) continue;
    if (b === undefined || c.summary.median < b.summary.median) b = c;
  }
  return b;
}

function ref(results, scId, node) {
  const sc = results.scenarios.find((s) => s.id === scId);
  return results.cells.find(
    (c) => c.scenario === scId && c.isRef && (node === undefined || c.node === node) && sc !== undefined,
  );
}

/** The targets the issue sets, checked against this run. */
export function checkTargets(results) {
  const t = [];
  const med = (c) => c?.summary?.median;
  const add = (id, text, pass, detail) => t.push({ id, text, pass, detail });

  const misses = [];
  const checked = [];
  for (const id of SINGLE_THREAD) {
    const r = ref(results, id);
    const b = best(results, id, (c) => c.fifoCorrect);
    if (!r || !b) continue;
    checked.push(id);
    if (!(med(r) <= med(b))) misses.push(`${id}: ${fmtRatio(med(r) / med(b))} of ${b.name}`);
  }
  add(
    "T1",
    "At or below the fastest FIFO-correct pure-JS peer in every single-thread scenario",
    checked.length > 0 && misses.length === 0,
    misses.length ? `misses ${misses.join("; ")}` : `met in ${checked.join(", ")}`,
  );

  const am = [];
  const amChecked = [];
  for (const id of SINGLE_THREAD) {
    const r = ref(results, id);
    const lib = id.startsWith("4") ? "async-mutex.Semaphore" : "async-mutex.Mutex";
    const p = results.cells.find((c) => c.scenario === id && c.lib === lib && c.summary);
    if (!r || !p) continue;
    amChecked.push(id);
    const ratio = med(r) / med(p);
    if (!(ratio <= 0.1)) am.push(`${id}: ${fmtRatio(ratio)} (${(1 / ratio).toFixed(1)}x faster)`);
  }
  add(
    "T2",
    ">= 10x faster than async-mutex",
    amChecked.length > 0 && am.length === 0,
    am.length ? `misses ${am.join("; ")}` : `met in ${amChecked.join(", ")}`,
  );

  const tr = ref(results, "2");
  add("T3", "tryAcquire()+release() <= 40 ns", med(tr) <= 40, tr ? `${fmtNs(med(tr))}` : "not measured");

  const rw = ref(results, "5a");
  const rwBest = best(results, "5a", (c) => c.fifoCorrect);
  const rwAny = best(results, "5a", () => true);
  const rwCmp = rwBest ?? rwAny;
  add(
    "T4",
    "RW 90/10 >= 3x faster than the fastest FIFO-correct RW peer",
    rw && rwCmp ? med(rw) * 3 <= med(rwCmp) : false,
    rw && rwCmp
      ? `${fmtNs(med(rw))} vs ${rwCmp.name} ${fmtNs(med(rwCmp))}: ${(med(rwCmp) / med(rw)).toFixed(2)}x faster${rwBest ? "" : " (no FIFO-correct RW peer: compared with the fastest RW peer)"}`
      : "not measured",
  );

  const dr = ref(results, "7a");
  const dm = results.cells.find((c) => c.scenario === "7a" && c.lib === "minimal" && c.summary);
  add(
    "T5",
    "Drain 100k waiters within 2x of the minimal mutex",
    dr && dm ? med(dr) <= 2 * med(dm) : false,
    dr && dm
      ? `${med(dr).toFixed(1)} ms vs ${med(dm).toFixed(1)} ms: ${(med(dr) / med(dm)).toFixed(2)}x`
      : "not measured",
  );

  const hp = ref(results, "7c");
  add("T6", "JS heap per queued waiter <= 250 B", med(hp) <= 250, hp ? `${med(hp).toFixed(0)} B` : "not measured");
  const sh = ref(results, "7d");
  add("T7", "Shared memory per queued waiter <= 32 B", med(sh) <= 32, sh ? `${med(sh).toFixed(1)} B` : "not measured");

  const wtCells = (scId) =>
    results.cells.filter((c) => c.scenario === scId && c.lib === "worker_threads.locks" && c.summary);
  const vsWt = (scId, factor) => {
    const out = [];
    for (const p of wtCells(scId)) {
      const r = ref(results, scId, p.node);
      if (!r?.summary) continue;
      out.push({ scId, node: p.node, pass: med(r) * factor <= med(p), x: med(p) / med(r) });
    }
    return out;
  };
  const u = vsWt("8a", 50);
  add(
    "T8",
    "Across workers, uncontended: >= 50x faster than worker_threads.locks",
    u.length > 0 && u.every((x) => x.pass),
    u.length
      ? u.map((x) => `${x.x.toFixed(1)}x faster (Node ${x.node})`).join("; ")
      : "worker_threads.locks not measured",
  );
  const c = ["8b", "8c", "8d"].flatMap((id) => vsWt(id, 1.5));
  add(
    "T9",
    "Across workers, 2-8 workers contending: >= 1.5x faster than worker_threads.locks",
    c.length > 0 && c.every((x) => x.pass),
    c.length ? c.map((x) => `${x.scId}: ${x.x.toFixed(2)}x`).join("; ") : "worker_threads.locks not measured",
  );
  const pp = [];
  for (const f of results.cells.filter((x) => x.scenario === "8e" && x.lib === "floor.waitAsync" && x.summary)) {
    const r = ref(results, "8e", f.node);
    if (r?.summary) pp.push({ node: f.node, pass: med(r) <= med(f), r: med(r), f: med(f) });
  }
  add(
    "T10",
    "Across workers: handoff at or below the raw Atomics.waitAsync ping-pong floor",
    pp.length > 0 && pp.every((x) => x.pass),
    pp.length
      ? pp.map((x) => `${fmtNs(x.r)} vs floor ${fmtNs(x.f)} (${(x.r / x.f).toFixed(2)}x, Node ${x.node})`).join("; ")
      : "not measured",
  );
  results.targets = t;
  return t;
}

// ------------------------------------------------------------------ Markdown

function fairCols(c) {
  const f = c.fairness;
  if (!f || f.requests === 0) return ["-", "-"];
  const per100k = (f.overtaken / f.requests) * 1e5;
  const mark = c.fairnessRacy ? "†" : "";
  return [
    `${per100k < 10 && per100k > 0 ? per100k.toFixed(1) : per100k.toFixed(0)}${mark}`,
    `${f.maxOvertakes}${mark}`,
  ];
}

export function markdown(results) {
  const m = results.meta;
  const out = [];
  out.push("# ringlock benchmark", "");
  out.push(
    `- Machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.os} ${m.machine.arch}, ${m.machine.memGB} GB RAM`,
  );
  out.push(
    `- Node ${m.node} (single-thread and scale suites)${m.nodes.length > 1 ? `; workers suite also on ${m.nodes.filter((n) => n !== m.node).join(", ")}` : ""}; worker_threads.locks rows: Node ${m.wtLocksNode ?? "(not available)"}`,
  );
  out.push(
    `- ringlock ${m.ringlock}${m.commit ? ` (${m.commit})` : ""}; ${m.quick ? "QUICK run (reduced sizes, fewer repetitions: smoke test, not for comparison)" : "full run"}; interleaved repetitions per cell after warm-up: ${m.reps}; ${new Date(m.date).toISOString()} (${(m.durationMs / 1000).toFixed(0)} s)`,
  );
  out.push(`- Peers: ${m.peerVersions}`);
  out.push(
    "- **ratio = ringlock ÷ peer** (time or bytes): below 1 means ringlock is faster/smaller (0.10x = 10x faster). Median of the repetitions; spread is min-max.",
    "- Fairness: `overtaken /100k` = requests granted after a later request, per 100k requests; `max` = most later requests granted ahead of one request. Exclusion violations are counted with Atomics inside each section. † = across threads the ticket is taken just before the request, so a preempted thread can look overtaken: informational only.",
    "",
  );

  out.push("## Targets", "", "| | target | result | measured |", "|---|---|---|---|");
  for (const t of results.targets) out.push(`| ${t.id} | ${t.text} | ${t.pass ? "met" : "**MISSED**"} | ${t.detail} |`);
  out.push("");
  out.push(...againstBaseline(results));

  for (const sc of results.scenarios) {
    const rows = rowsOf(results, sc);
    if (rows.length === 0) continue;
    const n = results.meta.drainWaiters;
    const title = sc.group === "scale" ? sc.title.replace("100,000", n.toLocaleString("en-US")) : sc.title;
    out.push(`## ${sc.id}. ${title}`, "");
    out.push(
      `| library | ${sc.unit} (median) | spread | ringlock ÷ it | overtaken /100k | max overtakes | violations | flags |`,
    );
    out.push("|---|---:|---:|---:|---:|---:|---:|---|");
    for (const c of rows) {
      const s = c.summary;
      const name = `${c.isRef ? "**" : ""}${c.name}${c.isRef ? "**" : ""}${sc.group === "workers" && results.meta.nodes.length > 1 ? ` (Node ${c.node})` : ""}`;
      const [ov, mx] = fairCols(c);
      out.push(
        `| ${name} | ${s ? fmtValue(s.median, sc.unit) : "-"} | ${s ? `${fmtValue(s.min, sc.unit)} - ${fmtValue(s.max, sc.unit)}` : "-"} | ${c.isRef ? "1 (ref)" : fmtRatio(c.ratio)} | ${ov} | ${mx} | ${c.violations ?? 0} | ${c.flags.join("; ")} |`,
      );
    }
    out.push("");
  }

  // Exclusion violations seen in the measured cells are bugs too: list them with the checks.
  const seen = new Map();
  for (const c of results.cells) {
    if (!(c.violations > 0)) continue;
    const k = `${c.name}${c.node ? ` (Node ${c.node})` : ""}`;
    seen.set(k, [...(seen.get(k) ?? []), `${c.violations} in ${c.scenario}`]);
  }
  if (results.bugs?.length || seen.size) {
    out.push("## Known peer bugs, reproduced in this run (each in its own process, with a watchdog)", "");
    out.push("| library | behaviour | reproduced | threshold | detail |", "|---|---|---|---|---|");
    for (const [k, v] of seen) {
      out.push(
        `| ${k} | two holders inside an exclusive section at once (Atomics counter in the section) | **yes** | - | overlapping sections: ${v.join(", ")} |`,
      );
    }
    for (const b of results.bugs) {
      out.push(
        `| ${b.lib} | ${b.title} | ${b.reproduced ? "**yes**" : "no"} | ${b.threshold ?? "-"} | ${b.detail ?? b.error ?? ""} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/** The "Against the baseline build" section (run.js --baseline): current ÷ baseline, row by row; empty without one. */
function againstBaseline(results) {
  const lines = [];
  const multiNode = results.meta.nodes.length > 1;
  for (const sc of results.scenarios) {
    // Reference rows first, otherwise in the order measured (so each Node's rows come in the order the Nodes ran).
    const current = results.cells
      .filter((c) => c.scenario === sc.id && c.kind === "ringlock")
      .sort((x, y) => (y.isRef ? 1 : 0) - (x.isRef ? 1 : 0));
    for (const cur of current) {
      const old = results.cells.find(
        (c) => c.scenario === sc.id && c.lib === `${cur.lib}@baseline` && c.node === cur.node,
      );
      if (!old) continue;
      const what = [
        ...(cur.isRef ? [] : [cur.name]),
        ...(sc.group === "workers" && multiNode ? [`Node ${cur.node}`] : []),
      ];
      const label = `${sc.id}${what.length ? ` (${what.join(", ")})` : ""}`;
      const n = cur.summary?.median;
      const o = old.summary?.median;
      const trouble = [...cur.flags.map((f) => `new: ${f}`), ...old.flags.map((f) => `old: ${f}`)];
      lines.push(
        n > 0 && o > 0
          ? `- ${label}: ${fmtRatio(n / o)} (${fmtValue(n, sc.unit)} vs ${fmtValue(o, sc.unit)})${trouble.length ? `; ${trouble.join("; ")}` : ""}`
          : `- ${label}: - (${trouble.join("; ") || "not measured"})`,
      );
    }
  }
  if (lines.length === 0) return [];
  const b = results.meta.baseline;
  return [
    "## Against the baseline build",
    "",
    `Baseline: ringlock ${b?.version ?? "?"}${b?.commit ? ` (${b.commit})` : ""} from \`${b?.path ?? "?"}\`, measured as one more library, interleaved with the current build in every suite (its rows are marked @baseline and take no part in the targets). **new ÷ old** = the current build's median ÷ the baseline's (time, or bytes for 7c/7d): below 1 means the current build is faster/smaller.`,
    "",
    ...lines,
    "",
  ];
}

// ------------------------------------------------------------------ SVG

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Dot plot: one row per scenario, ns per operation on a log axis, ringlock in red. */
export function svg(results) {
  const rows = [];
  for (const sc of results.scenarios) {
    let conv;
    if (sc.unit.startsWith("ns/")) conv = (v) => v;
    else if (sc.id === "7a") conv = (v) => (v * 1e6) / (results.meta.drainWaiters ?? 1e5);
    else continue;
    const cells = results.cells.filter((c) => c.scenario === sc.id && c.summary && Number.isFinite(c.summary.median));
    if (cells.length === 0) continue;
    rows.push({ sc, cells, conv, unit: sc.id === "7a" ? "ns/waiter (drain)" : sc.unit });
  }
  const W = 1100;
  const left = 330;
  const right = 120;
  const top = 70;
  const rowH = 30;
  const H = top + rows.length * rowH + 70;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const r of rows)
    for (const c of r.cells) {
      const v = r.conv(c.summary.median);
      if (v > 0) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  const d0 = Math.floor(Math.log10(Math.max(lo, 0.1)));
  const d1 = Math.ceil(Math.log10(Math.max(hi, 10)));
  const x = (v) => left + ((Math.log10(Math.max(v, 10 ** d0)) - d0) / (d1 - d0)) * (W - left - right);
  const o = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(
    `<text x="${left}" y="24" font-size="16" font-weight="600">ringlock vs peers: time per operation (log scale, lower is better)</text>`,
  );
  const m = results.meta;
  o.push(
    `<text x="${left}" y="44" fill="#555">${esc(`${m.machine.cpu}, ${m.machine.cores} cores; Node ${m.node}; ${m.quick ? "quick run" : "full run"}; medians of interleaved repetitions`)}</text>`,
  );
  // grid
  for (let d = d0; d <= d1; d++) {
    const gx = x(10 ** d);
    o.push(`<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${top + rows.length * rowH}" stroke="#ddd"/>`);
    const label = d < 3 ? `${10 ** d} ns` : d < 6 ? `${10 ** (d - 3)} µs` : `${10 ** (d - 6)} ms`;
    o.push(`<text x="${gx}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${label}</text>`);
    if (d < d1) {
      for (let k = 2; k < 10; k++) {
        const mx = x(k * 10 ** d);
        o.push(`<line x1="${mx}" y1="${top - 4}" x2="${mx}" y2="${top + rows.length * rowH}" stroke="#f1f1f1"/>`);
      }
    }
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2;
    if (i % 2 === 0) o.push(`<rect x="0" y="${y - rowH / 2}" width="${W}" height="${rowH}" fill="#fafafa"/>`);
    const title = `${r.sc.id}. ${r.sc.title.replace(/`/g, "")}`;
    const short = `${r.sc.id}. ${r.sc.short ?? r.sc.title}`;
    o.push(
      `<text x="${left - 10}" y="${y + 4}" text-anchor="end"><title>${esc(`${title} (${r.unit})`)}</title>${esc(short)}</text>`,
    );
    const sorted = [...r.cells].sort((a, b) => (a.kind === "ringlock" ? 1 : 0) - (b.kind === "ringlock" ? 1 : 0));
    for (const c of sorted) {
      const v = r.conv(c.summary.median);
      const cx = x(v).toFixed(1);
      const tip = esc(
        `${c.name}${c.node && r.sc.group === "workers" ? ` (Node ${c.node})` : ""}: ${fmtNs(v)} ${r.unit}${c.flags?.length ? ` [${c.flags.join("; ")}]` : ""}`,
      );
      if (c.kind === "ringlock") {
        const size = c.isRef ? 7 : 5;
        o.push(
          `<rect x="${(x(v) - size).toFixed(1)}" y="${y - size}" width="${2 * size}" height="${2 * size}" transform="rotate(45 ${cx} ${y})" fill="${c.isRef ? "#d62728" : "#f4a6a6"}" stroke="#7f0000"><title>${tip}</title></rect>`,
        );
      } else if (c.kind === "baseline") {
        o.push(
          `<rect x="${(x(v) - 6).toFixed(1)}" y="${y - 6}" width="12" height="12" transform="rotate(45 ${cx} ${y})" fill="none" stroke="#d62728" stroke-width="1.5"><title>${tip}</title></rect>`,
        );
      } else if (c.kind === "floor") {
        o.push(
          `<circle cx="${cx}" cy="${y}" r="5" fill="none" stroke="#1f77b4" stroke-width="2"><title>${tip}</title></circle>`,
        );
      } else {
        const bad = c.flags?.some((f) => /NOT FIFO|VIOLATED|HANG|not FIFO/.test(f));
        o.push(
          `<circle cx="${cx}" cy="${y}" r="4.5" fill="${bad ? "#ff9f1c" : "#8c8c8c"}" fill-opacity="0.75" stroke="${bad ? "#b35c00" : "#555"}"><title>${tip}</title></circle>`,
        );
      }
    }
    const refC = r.cells.find((c) => c.isRef);
    const b = r.cells
      .filter((c) => c.kind === "peer" && c.fifoCorrect && (r.sc.group !== "workers" || c.node === refC?.node))
      .sort((a, b2) => a.summary.median - b2.summary.median)[0];
    if (refC && b) {
      const ratio = refC.summary.median / b.summary.median;
      o.push(
        `<text x="${W - right + 10}" y="${y + 4}" fill="${ratio <= 1 ? "#2a7d2a" : "#b00020"}"><title>${esc(`ringlock ÷ fastest FIFO-correct peer (${b.name})`)}</title>${fmtRatio(ratio)}</text>`,
      );
    }
  });
  const ly = top + rows.length * rowH + 40;
  o.push(
    `<rect x="${left}" y="${ly - 6}" width="10" height="10" transform="rotate(45 ${left + 5} ${ly - 1})" fill="#d62728" stroke="#7f0000"/><text x="${left + 16}" y="${ly + 3}">ringlock</text>`,
  );
  o.push(
    `<circle cx="${left + 100}" cy="${ly - 1}" r="4.5" fill="#8c8c8c" stroke="#555"/><text x="${left + 110}" y="${ly + 3}">peer</text>`,
  );
  o.push(
    `<circle cx="${left + 170}" cy="${ly - 1}" r="4.5" fill="#ff9f1c" stroke="#b35c00"/><text x="${left + 180}" y="${ly + 3}">peer flagged (overtakes / violations / hang)</text>`,
  );
  o.push(
    `<circle cx="${left + 450}" cy="${ly - 1}" r="5" fill="none" stroke="#1f77b4" stroke-width="2"/><text x="${left + 460}" y="${ly + 3}">floor (no lock)</text>`,
  );
  if (rows.some((r) => r.cells.some((c) => c.kind === "baseline"))) {
    o.push(
      `<rect x="${left + 565}" y="${ly - 6}" width="10" height="10" transform="rotate(45 ${left + 570} ${ly - 1})" fill="none" stroke="#d62728" stroke-width="1.5"/><text x="${left + 582}" y="${ly + 3}">ringlock baseline build</text>`,
    );
  }
  o.push(`<text x="${W - right + 10}" y="${top - 12}" fill="#555">ringlock ÷ best</text>`);
  o.push("</svg>");
  return o.join("\n");
}
