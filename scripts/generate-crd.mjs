// npm run generate: writes the ScimConfig CRD built from the zod schema (dist/orgs/crdYaml.js).
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// The built module, typed from its source: a computed specifier keeps the type checker on src/.
/** @type {typeof import('../src/orgs/crdYaml.js')} */
const { CRD_FILE, crdYaml } = await import(new URL('../dist/orgs/crdYaml.js', import.meta.url).href);
const file = path.join(root, CRD_FILE);
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, crdYaml());
console.log(`wrote ${CRD_FILE}`);
