// Order statistics for samples and the fairness measure for grant orders.

export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(samples) {
  const s = [...samples].sort((x, y) => x - y);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0],
    max: s[s.length - 1],
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
  };
}

/**
 * Overtakes in a grant order. `order[g]` is the ticket (request order, 0-based,
 * all below `tickets`) of the g-th grant. A request is overtaken once for every
 * request with a later ticket that was granted before it (an inversion), and
 * a request never granted (timed out) is not counted. Fenwick tree: O(n log n).
 * Returns { requests, overtaken (requests overtaken at least once), overtakes
 * (total), maxOvertakes (of one request) }.
 */
export function overtakes(order, grants, tickets) {
  const size = tickets + 1;
  const tree = new Int32Array(size + 1);
  let overtaken = 0;
  let total = 0;
  let max = 0;
  for (let g = 0; g < grants; g++) {
    const t = order[g] + 1;
    // granted so far with ticket <= t
    let le = 0;
    for (let i = t; i > 0; i -= i & -i) le += tree[i];
    const later = g - le; // granted before it although requested after it
    if (later > 0) {
      overtaken++;
      total += later;
      if (later > max) max = later;
    }
    for (let i = t; i <= size; i += i & -i) tree[i]++;
  }
  return { requests: grants, overtaken, overtakes: total, maxOvertakes: max };
}

/** Adds b's fairness counts into a (both may be undefined). */
export function mergeFairness(a, b) {
  if (!b) return a;
  if (!a) return { ...b };
  return {
    requests: a.requests + b.requests,
    overtaken: a.overtaken + b.overtaken,
    overtakes: a.overtakes + b.overtakes,
    maxOvertakes: Math.max(a.maxOvertakes, b.maxOvertakes),
  };
}

/** Deterministic PRNG (mulberry32) so every library sees the same request mix. */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
