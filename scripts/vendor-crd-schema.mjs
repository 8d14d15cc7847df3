// Vendors a CRD's served openAPIV3Schema into a JSON schema file, dropping only `description`
// (documentation) so the files stay small; every validation keyword is kept as published.
// Used for test/deploy/schemas/ (see its README.md):
//   node scripts/vendor-crd-schema.mjs <git dir of a clone> <owner/repo> <path of the CRD> <version> <out.json>
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parse } from 'yaml';
const [repoDir, repo, path, version, out] = process.argv.slice(2);
const commit = execFileSync('git', ['-C', repoDir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
/** @typedef {{ name: string, schema: { openAPIV3Schema: unknown } }} CrdVersion */
/** @type {{ spec: { group: string, names: { kind: string }, versions: CrdVersion[] } }} */
const crd = parse(execFileSync('git', ['-C', repoDir, 'show', `HEAD:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 }));
const v = /** @type {CrdVersion} */ (crd.spec.versions.find((x) => x.name === version)); // a version the CRD lacks fails below, as before
/**
 * @param {unknown} s  JSON
 * @returns {unknown} the same JSON without string-valued `description` keys
 */
const strip = (s) => {
  if (Array.isArray(s)) return s.map(strip);
  if (s && typeof s === 'object') {
    /** @type {Record<string, unknown>} */
    const o = {};
    for (const [k, val] of Object.entries(s)) {
      if (k === 'description' && typeof val === 'string') continue;
      o[k] = k === 'properties' ? Object.fromEntries(Object.entries(val).map(([pk, pv]) => [pk, strip(pv)])) : strip(val);
    }
    return o;
  }
  return s;
};
const schema = {
  $comment: `openAPIV3Schema of ${crd.spec.names.kind} ${crd.spec.group}/${version}, from https://github.com/${repo}/blob/${commit}/${path} (descriptions removed; nothing else changed)`,
  'x-kubernetes-group-version-kind': [{ group: crd.spec.group, version, kind: crd.spec.names.kind }],
  .../** @type {Record<string, unknown>} */ (strip(v.schema.openAPIV3Schema)),
};
writeFileSync(out, JSON.stringify(schema) + '\n');
