// Turns zod issues into one line each, naming the full path of the field. An unknown field is
// reported at its own path (zod reports it at the parent's) with the closest known field, so
// `spec.roleMapping` reads like the apiserver's `unknown field "spec.roleMapping"`.
import type { z } from 'zod';
import { defOf } from './pruneNulls.js';

/** One line per problem, `path: message`; unknown fields suggest the closest field of `schema`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], schema?: z.ZodType): string[] {
  const known = (path: PropertyKey[]) => (schema ? knownKeys(schema, path) : []);
  const out: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const at = formatPath([...issue.path, key]);
        const hint = suggest(key, known(issue.path));
        out.push(`${at}: unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
    } else {
      out.push(`${formatPath(issue.path) || '(root)'}: ${issue.message}`);
    }
  }
  return out;
}

/** `spec.roleMappings[0].teams`: the form kubectl and the apiserver print. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/**
 * The known field closest to `key` (case-insensitive edit distance ≤ 2), if any; none when `key`
 * itself is known (a field of another union option, e.g. `postgres:` beside `type: http`).
 */
export function suggest(key: string, known: string[]): string | undefined {
  if (known.includes(key)) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The field names of the object schema at `path` inside `schema` (union options merged). */
export function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  const def = defOf(schema);
  const wrapped = def.innerType ?? def.in;
  if (wrapped) return knownKeys(wrapped, path);
  if (def.type === 'union') return [...new Set(def.options!.flatMap((o) => knownKeys(o, path)))];
  if (path.length === 0) return def.type === 'object' ? Object.keys(def.shape!) : [];
  const [head, ...rest] = path;
  if (def.type === 'array' && typeof head === 'number') return knownKeys(def.element!, rest);
  const next = def.type === 'object' ? def.shape![String(head)] : undefined;
  return next ? knownKeys(next, rest) : [];
}
