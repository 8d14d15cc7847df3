// node bench/patchOps.mjs [--dist DIR] [--sizes 1000,5000,20000]
// Times the PATCH engine alone (src/scim/patch.ts, built into dist/) on one request of N small
// operations of several shapes, to show the cost per operation stays flat as N grows (linear
// engine, issue 10). Pure CPU: no database, no HTTP. Prints ms per request and µs per operation.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
/**
 * The value after `--<name>`, else `dflt`.
 * @template {string | number | undefined} [D=undefined]
 * @param {string} name
 * @param {D} [dflt]
 * @returns {string | D}
 */
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? /** @type {D} */ (dflt) : argv[i + 1];
};
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.resolve(arg('dist', path.join(root, 'dist')));
const sizes = arg('sizes', '1000,5000,20000').split(',').map(Number);
/** @type {typeof import('../src/scim/patch.js')} */
const { applyPatch } = await import(path.join(dist, 'scim/patch.js'));
/** @type {typeof import('../src/scim/schemas.js')} */
const { USER_RESOURCE, GROUP_RESOURCE } = await import(path.join(dist, 'scim/schemas.js'));

const USER = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'a@example.com' };
const GROUP = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g' };
/** @param {number} i */
const uuid = (i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
/** @type {Record<string, [import('../src/scim/schemas.js').ResourceTypeDef, import('../src/scim/resource.js').Json, (i: number) => unknown]>} */
const shapes = {
  'user: add emails (one per op)': [USER_RESOURCE, USER, (i) => ({ op: 'add', path: 'emails', value: [{ value: `u${i}@example.com`, type: 'work' }] })],
  'user: add primary emails': [USER_RESOURCE, USER, (i) => ({ op: 'add', path: 'emails', value: [{ value: `u${i}@example.com`, primary: true }] })],
  'user: replace displayName': [USER_RESOURCE, USER, (i) => ({ op: 'replace', path: 'displayName', value: `x${i}` })],
  'group: add member (one per op)': [GROUP_RESOURCE, GROUP, (i) => ({ op: 'add', path: 'members', value: [{ value: uuid(i) }] })],
  'group: remove member[value eq]': [GROUP_RESOURCE, GROUP, (i) => ({ op: 'remove', path: `members[value eq "${uuid(i)}"]` })],
};

const budgetMs = Number(arg('budget', '60000'));
for (const [name, [rt, doc, make]] of Object.entries(shapes)) {
  for (const n of sizes) {
    const body = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: Array.from({ length: n }, (_, i) => make(i)) };
    const t = performance.now();
    try {
      applyPatch(rt, doc, body, { maxOperations: Infinity });
    } catch (/** @type {any} */ err) {
      console.log(`${name.padEnd(34)} ${String(n).padStart(6)} ops  failed: ${err.message}`);
      continue;
    }
    const ms = performance.now() - t;
    console.log(`${name.padEnd(34)} ${String(n).padStart(6)} ops  ${ms.toFixed(0).padStart(7)} ms  ${((ms * 1000) / n).toFixed(1).padStart(8)} µs/op`);
    if (ms > budgetMs / 4) break; // the next size would take too long on a quadratic engine
  }
}
