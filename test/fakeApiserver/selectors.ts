// Label and field selectors for list and watch.
// Label selector grammar: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
//   equality-based (=, ==, !=) and set-based (in, notin, exists `k`, not-exists `!k`), comma = AND.
// Field selectors: https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/
//   =, ==, != on the fields a resource supports; every resource supports metadata.name and
//   metadata.namespace, an unsupported field is a 400 ("field label not supported").
import { errors } from './errors.js';

type Labels = Record<string, string> | undefined;
export type Matcher = (obj: { metadata?: { labels?: Labels } } & Record<string, unknown>) => boolean;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

/** Parses a labelSelector; throws a 400 ApiError on bad syntax. */
export function parseLabelSelector(sel: string | null): Matcher {
  if (!sel) return () => true;
  const tests: ((l: Record<string, string>) => boolean)[] = [];
  for (const req of splitTop(sel)) {
    let m: RegExpMatchArray | null;
    if ((m = req.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, list] = m;
      const vals = new Set(list.split(',').map((v) => v.trim()));
      tests.push(op === 'in' ? (l) => key in l && vals.has(l[key]) : (l) => !(key in l) || !vals.has(l[key]));
    } else if ((m = req.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/))) {
      const [, key, op, val] = m;
      tests.push(op === '!=' ? (l) => l[key] !== val : (l) => l[key] === val);
    } else if ((m = req.match(/^!\s*([\w./-]+)$/))) {
      const key = m[1];
      tests.push((l) => !(key in l));
    } else if ((m = req.match(/^([\w./-]+)$/))) {
      const key = m[1];
      tests.push((l) => key in l);
    } else {
      throw errors.badRequest(`unable to parse requirement: ${JSON.stringify(req)}`);
    }
  }
  return (obj) => {
    const l = obj.metadata?.labels ?? {};
    return tests.every((t) => t(l));
  };
}

/** Reads a dotted path (`metadata.name`, `type`, `spec.holderIdentity`) from an object. */
export function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Parses a fieldSelector against the fields `supported` (besides metadata.name and
 * metadata.namespace, which every resource has); throws 400 for other fields, as the real server.
 */
export function parseFieldSelector(sel: string | null, supported: readonly string[] = []): Matcher {
  if (!sel) return () => true;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...supported]);
  const tests: ((o: unknown) => boolean)[] = [];
  for (const req of splitTop(sel)) {
    const m = req.match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw errors.badRequest(`invalid selector: '${sel}'; can't understand '${req}'`);
    const [, field, op, val] = m;
    if (!allowed.has(field)) throw errors.badRequest(`field label not supported: ${field}`);
    tests.push((o) => {
      const v = getPath(o, field);
      const s = v === undefined || v === null ? '' : String(v);
      return op === '!=' ? s !== val : s === val;
    });
  }
  return (obj) => tests.every((t) => t(obj));
}
