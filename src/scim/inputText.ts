// Checks on a request's raw input before any SCIM processing: what JSON and URLs can carry but
// PostgreSQL cannot store or compare, and shapes that would make recursive code overflow the
// stack. Each is a 400 with the place it was found, instead of a failing INSERT (500) later.
import { badRequest } from './errors.js';

/**
 * How deeply a request body may nest arrays and objects. A SCIM resource nests 4 levels
 * (resource → extension → complex → value); a PatchOp with a pathless value a few more.
 * 64 leaves room for any IdP while keeping every recursive walk far from the stack limit.
 */
export const MAX_JSON_DEPTH = 64;

// In a /u regular expression, a surrogate code unit only matches when it is unpaired.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Why a string cannot be stored: PostgreSQL text and jsonb refuse U+0000 (22P05) and a UTF-16
 * surrogate without its pair is not Unicode (jsonb rejects "\ud800", 22P02; text would store a
 * replacement character, silently changing the value). undefined when the string is fine.
 */
export function unstorableText(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/**
 * Walks a parsed JSON body without recursion: every string (keys included) must be storable
 * text and nesting at most MAX_JSON_DEPTH deep. Throws ScimError 400 naming where.
 */
const shown = (where: string) => (where.length > 200 ? `${where.slice(0, 200)}…` : where) || 'the body';

export function checkJsonBody(body: unknown): void {
  const stack: [unknown, number, string][] = [[body, 0, '']];
  while (stack.length) {
    const [v, depth, where] = stack.pop()!;
    if (typeof v === 'string') {
      const why = unstorableText(v);
      if (why) throw badRequest('invalidValue', `the value at ${shown(where)} ${why}`);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_JSON_DEPTH) throw badRequest('invalidSyntax', `the request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
    if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, depth + 1, `${where}[${i}]`]));
      continue;
    }
    for (const [k, x] of Object.entries(v)) {
      const why = unstorableText(k);
      if (why) throw badRequest('invalidValue', `an attribute name at ${shown(where)} ${why}`);
      stack.push([x, depth + 1, where ? `${where}.${k}` : k]);
    }
  }
}

/** Query parameters (strings, or arrays of strings when repeated): storable text only. */
export function checkQuery(query: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(query)) {
    for (const s of [k, ...(Array.isArray(v) ? v : [v])]) {
      const why = typeof s === 'string' ? unstorableText(s) : undefined;
      if (why) throw badRequest('invalidValue', `query parameter ${JSON.stringify(k.slice(0, 64))} ${why}`);
    }
  }
}
