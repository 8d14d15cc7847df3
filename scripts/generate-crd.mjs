// npm run generate: writes the ScimConfig CRD built from the zod schema (dist/orgs/crdYaml.js).
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, crdYaml } from '../dist/orgs/crdYaml.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const file = path.join(root, CRD_FILE);
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, crdYaml());
console.log(`wrote ${CRD_FILE}`);
