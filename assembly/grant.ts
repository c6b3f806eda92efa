import { L_HELD, L_MASK, S_KIND, T_CONFLICT } from "./layout";

// The grant test, written once: no conflicting mode held, and the mode's held
// weight plus w within its limit.
// @ts-expect-error: decorator
@inline
export function grantable(l: usize, t: usize, n: u32, m: u32, w: u32): bool {
  const conflicts = load<u32>(t + T_CONFLICT + (m << 2));
  const limit = load<u32>(t + T_CONFLICT + ((n + m) << 2));
  const held = load<u32>(l + L_HELD + (m << 2));
  return (load<u32>(l + L_MASK) & conflicts) == 0 && <u64>held + <u64>w <= <u64>limit;
}

// The kind of sync object whose private table t is (layout.ts, SK_*), or 0
// for a plain lock's table. A sync table's limit is dynamic: it may be 0 and
// may drop below the weight held (CapacityLimiter.total lowered).
// @ts-expect-error: decorator
@inline
export function syncKind(t: usize, n: u32): u32 {
  return n == 1 ? load<u32>(t + S_KIND) : 0;
}
