// PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902, including `test`).
// https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
// Errors follow k8s.io/apiserver/pkg/endpoints/handlers/patch.go: an undecodable patch is a 400,
// a JSON patch that does not apply (failed `test`, missing path) is a 422.
import { errors } from './errors.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386 §2: objects merge recursively, null deletes, anything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

/** RFC 6901 pointer → tokens. */
function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw errors.unprocessable(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, pointer: string): { parent: Record<string, unknown> | unknown[]; key: string } {
  const toks = tokens(pointer);
  if (toks.length === 0) throw errors.unprocessable('JSON patch on the whole document is not supported');
  let cur: unknown = doc;
  for (const t of toks.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw errors.unprocessable(`doc is missing path: "${pointer}": missing value`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw errors.unprocessable(`doc is missing path: "${pointer}": missing value`);
  return { parent: cur, key: toks[toks.length - 1] };
}

function get(doc: unknown, pointer: string): unknown {
  let cur: unknown = doc;
  for (const t of tokens(pointer)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function arrayIndex(arr: unknown[], key: string, forAdd: boolean): number {
  if (forAdd && key === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw errors.unprocessable(`invalid array index ${JSON.stringify(key)}`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i === arr.length)) throw errors.unprocessable(`index out of range: ${i}`);
  return i;
}

function add(doc: unknown, path: string, value: unknown): void {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, clone(value));
  else parent[key] = clone(value);
}

function remove(doc: unknown, path: string): unknown {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
  if (!(key in parent)) throw errors.unprocessable(`doc is missing key: ${path}: missing value`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Applies an RFC 6902 patch to a copy of `doc`; the whole patch applies or none of it does (§5). */
export function jsonPatch(doc: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw errors.badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const out = clone(doc);
  for (const raw of patch as Op[]) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw errors.badRequest(`invalid JSON patch operation ${JSON.stringify(raw)}`);
    }
    switch (raw.op) {
      case 'add':
        add(out, raw.path, raw.value);
        break;
      case 'remove':
        remove(out, raw.path);
        break;
      case 'replace':
        remove(out, raw.path);
        add(out, raw.path, raw.value);
        break;
      case 'move': {
        const v = remove(out, String(raw.from));
        add(out, raw.path, v);
        break;
      }
      case 'copy': {
        const v = get(out, String(raw.from));
        if (v === undefined) throw errors.unprocessable(`doc is missing from path: ${raw.from}`);
        add(out, raw.path, v);
        break;
      }
      case 'test': {
        // The message evanphx/json-patch gives, which the apiserver passes through in a 422.
        if (!deepEqual(get(out, raw.path), raw.value)) throw errors.unprocessable(`testing value ${raw.path} failed: test failed`);
        break;
      }
      default:
        throw errors.badRequest(`Unexpected kind: ${raw.op}`);
    }
  }
  return out;
}

export { deepEqual };
