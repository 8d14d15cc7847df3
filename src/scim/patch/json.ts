// Small JSON helpers for the PATCH engine.

/** Structural equality of JSON values; object key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}

/** Finds a key case-insensitively (IdPs send "Operations", "operations", "Op", …). */
export function getIgnoreCase(obj: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

/**
 * A string equal for two values exactly when deepEqual holds (object keys sorted, undefined
 * members dropped): lets the engine find duplicates with a Set instead of pairwise deepEqual.
 */
export function canonicalKey(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalKey).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalKey(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

/** Per array: how many of its elements have each canonical key. */
const keyIndex = new WeakMap<unknown[], Map<string, number>>();
/** Per array: positions of the elements with primary: true (RFC 7643 §2.4). */
const primaryIndex = new WeakMap<unknown[], Set<number>>();

const isPrimary = (v: unknown) => typeof v === 'object' && v !== null && (v as Record<string, unknown>).primary === true;

/** Positions of the primary elements, cached like keysOf (kept exact by appendUnique and replaceElement). */
export function primariesOf(items: unknown[]): Set<number> {
  let idx = primaryIndex.get(items);
  if (!idx) {
    idx = new Set();
    items.forEach((el, i) => isPrimary(el) && idx!.add(i));
    primaryIndex.set(items, idx);
  }
  return idx;
}

/**
 * The canonical keys of an array's elements, cached per array: an engine that appends to the
 * same array operation after operation pays for each element once (linear, not quadratic).
 * Arrays changed through appendUnique and replaceElement keep their index exact.
 */
function keysOf(items: unknown[]): Map<string, number> {
  let keys = keyIndex.get(items);
  if (!keys) {
    keys = new Map();
    for (const el of items) bump(keys, canonicalKey(el), 1);
    keyIndex.set(items, keys);
  }
  return keys;
}

function bump(keys: Map<string, number>, k: string, by: number): void {
  const n = (keys.get(k) ?? 0) + by;
  if (n > 0) keys.set(k, n);
  else keys.delete(k);
}

/** Appends the values not already in items (in place); returns the ones appended. */
export function appendUnique(items: unknown[], values: unknown[]): unknown[] {
  const keys = keysOf(items);
  const added: unknown[] = [];
  for (const v of values) {
    const k = canonicalKey(v);
    if (keys.has(k)) continue;
    bump(keys, k, 1);
    if (isPrimary(v)) primariesOf(items).add(items.length);
    items.push(v);
    added.push(v);
  }
  return added;
}

/** items[i] = v, keeping the array's key index (if it has one) exact. */
export function replaceElement(items: unknown[], i: number, v: unknown): void {
  const keys = keyIndex.get(items);
  if (keys) {
    bump(keys, canonicalKey(items[i]), -1);
    bump(keys, canonicalKey(v), 1);
  }
  const primaries = primaryIndex.get(items);
  if (primaries) {
    if (isPrimary(v)) primaries.add(i);
    else primaries.delete(i);
  }
  items[i] = v;
}
