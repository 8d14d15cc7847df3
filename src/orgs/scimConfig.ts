// The ScimConfig document: the same shape locally (YAML files) and as the Kubernetes CRD
// (apiVersion scimsync.io/v1alpha1, kind ScimConfig). spec.organization is the URL slug.
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

export const API_VERSION = 'scimsync.io/v1alpha1';
export const KIND = 'ScimConfig';

export const organizationSlug = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits and "-", at most 63 characters');

/** spec fields. The reconciler issue adds roleMappings, target, guard rails, … here. */
export const scimConfigSpec = z
  .object({
    organization: organizationSlug,
  })
  .passthrough();

export const scimConfigDocument = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.object({ name: z.string().optional() }).passthrough().optional(),
  spec: scimConfigSpec,
});

export type ScimConfigSpec = z.infer<typeof scimConfigSpec>;
export type ScimConfigDocument = z.infer<typeof scimConfigDocument>;

export const DEMO_CONFIG: ScimConfigDocument = {
  apiVersion: API_VERSION,
  kind: KIND,
  metadata: { name: 'demo' },
  spec: { organization: 'demo' },
};

/** Parses every YAML document of one text; errors name the source and document index. */
export function parseScimConfigs(text: string, source: string): ScimConfigDocument[] {
  const out: ScimConfigDocument[] = [];
  const problems: string[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length) {
      problems.push(`${source} document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return;
    }
    const value = doc.toJS();
    if (value === null || value === undefined) return;
    const parsed = scimConfigDocument.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`${source} document ${i + 1}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
      }
    } else out.push(parsed.data);
  });
  if (problems.length) throw new Error(`invalid ScimConfig:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return out;
}

/** Reads a file, or every *.yaml / *.yml file of a directory (sorted by name). */
export async function loadScimConfigs(fileOrDir: string): Promise<ScimConfigDocument[]> {
  const info = await stat(fileOrDir);
  const files = info.isDirectory()
    ? (await readdir(fileOrDir)).filter((f) => /\.ya?ml$/i.test(f)).sort().map((f) => path.join(fileOrDir, f))
    : [fileOrDir];
  const docs: ScimConfigDocument[] = [];
  for (const f of files) docs.push(...parseScimConfigs(await readFile(f, 'utf8'), f));
  const seen = new Set<string>();
  for (const d of docs) {
    if (seen.has(d.spec.organization)) throw new Error(`invalid ScimConfig: organization "${d.spec.organization}" is declared twice`);
    seen.add(d.spec.organization);
  }
  return docs;
}
