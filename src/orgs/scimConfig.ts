// The ScimConfig document: the same shape locally (YAML files) and as the Kubernetes CRD
// (apiVersion scimsync.io/v1alpha1, kind ScimConfig). spec.organization is the URL slug.
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { describeIssues } from './describeIssues.js';
import { pruneNonNullableNulls } from './pruneNulls.js';

export const API_VERSION = 'scimsync.io/v1alpha1';
export const KIND = 'ScimConfig';

export const organizationSlug = z
  .string()
  .max(63, 'must be a DNS label: lowercase letters, digits and "-", at most 63 characters')
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits and "-", at most 63 characters');

/** "250ms", "30s", "5m", "1h", "1d" (decimals allowed); also the CRD's pattern for durations. */
export const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/**
 * A duration: a string such as "250ms", "30s", "5m", "1h", "1d", or a whole number of
 * milliseconds; parsed to milliseconds. In the CRD a string|integer union is
 * `x-kubernetes-int-or-string` (as Deployment's maxSurge), so a number must be an integer here too.
 */
export const duration = z
  .union([z.string().regex(DURATION_PATTERN, 'must be a duration such as "30s", "5m" or "1h"'), z.number().int().min(0)])
  .transform((v) => {
    if (typeof v === 'number') return v;
    const m = DURATION_PATTERN.exec(v)!;
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Math.round(Number(m[1]) * unit);
  });

// Field descriptions are .describe() text: they become the CRD's descriptions (kubectl explain).

/** Maps an IdP group (displayName, case-insensitively, or externalId) to an application role. */
export const roleMapping = z.strictObject({
  group: z.string().min(1).describe('IdP group: displayName (case-insensitive) or externalId.'),
  role: z.string().min(1).describe('Application role of its members.'),
  teams: z.array(z.string().min(1)).default([]).describe('Application teams of its members.'),
});

const secretRef = z
  .strictObject({ name: z.string().min(1).describe('Secret name.'), key: z.string().min(1).describe('Key in the Secret.') })
  .describe("A key of a Secret in the ScimConfig's namespace.");

export const httpTargetSpec = z.strictObject({
  // An http(s) URL in both schemas: zod's url() and the apiserver's `format: uri` differ on others.
  baseUrl: z
    .string()
    .url()
    .regex(/^https?:\/\/[^/?#\s]+/, 'must be an http or https URL')
    .describe('Base URL of the application\'s membership API (docs/target-http.md).'),
  organization: z.string().min(1).optional().describe('The {organization} path segment; the organization slug when unset.'),
  token: z.string().min(1).optional().describe('Local mode: the bearer token itself.'),
  tokenEnv: z.string().min(1).optional().describe('Local mode: the environment variable holding the bearer token.'),
  tokenSecretRef: secretRef.optional().describe('The bearer token, from a Secret key.'),
  timeout: duration.prefault('10s').describe('Per-request timeout.'),
  maxRetries: z.number().int().min(0).max(20).default(5).describe('Retries of a failed call.'),
  retryBaseDelay: duration.prefault('200ms').describe('First retry delay; doubled per attempt, full jitter, capped at 10s.'),
  maxRetryAfter: duration.prefault('30s').describe('A Retry-After longer than this is not waited for in-process: the item is requeued.'),
  pageSize: z.number().int().positive().max(10_000).default(500).describe('Members per page when listing.'),
});

export const postgresTargetSpec = z.strictObject({
  connection: z
    .strictObject({
      url: z.string().min(1).optional().describe('Local mode: the connection string.'),
      urlEnv: z.string().min(1).optional().describe('Local mode: the environment variable holding it.'),
      urlSecretRef: secretRef.optional().describe('The connection string, from a Secret key.'),
    })
    .optional()
    .describe("The application's database; scimsync's own when unset."),
  table: z.string().min(1).default('app_memberships').describe('Table, optionally schema-qualified ("app.memberships"); needs a unique key on (organization, email).'),
  columns: z
    .strictObject({
      organization: z.string().min(1).default('organization'),
      email: z.string().min(1).default('email'),
      role: z.string().min(1).default('role'),
      teams: z.string().min(1).nullable().default('teams').describe('A text[] column; null when the application has no teams.'),
      displayName: z.string().min(1).nullable().default(null),
      externalId: z.string().min(1).nullable().default(null),
    })
    .prefault({})
    .describe('Column names of the membership table.'),
  organizationValue: z.string().min(1).optional().describe('Value written to the organization column; the organization slug when unset.'),
  pageSize: z.number().int().positive().max(10_000).default(1000).describe('Rows per page when listing.'),
});

export const targetSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('http'), http: httpTargetSpec.describe('type http: a REST API the application implements.') }),
  z.strictObject({ type: z.literal('postgres'), postgres: postgresTargetSpec.prefault({}).describe("type postgres: the application's membership table.") }),
]);

/**
 * Revocations allowed per sliding window before the rest are held for `scimsync approve`:
 * the larger of maxCount and ceil(maxFraction × members); either may be null to use only the other.
 */
export const revocationGuard = z.strictObject({
  enabled: z.boolean().default(true),
  maxFraction: z.number().min(0).max(1).nullable().default(0.1).describe('Fraction of the members; null: use maxCount only.'),
  maxCount: z.number().int().min(0).nullable().default(10).describe('Number of members; null: use maxFraction only.'),
  window: duration.prefault('1h').describe('Sliding window the limit applies to.'),
});

/**
 * spec fields: the organization, the reconciler's configuration (issue 3) and the operator's
 * (issue 8). Strict at every level: an unknown field (`roleMapping:` for `roleMappings:`) is an
 * error, as the Kubernetes API server reports it under strict field validation, instead of a
 * typo that silently leaves a safety setting at its default.
 */
export const scimConfigSpec = z.strictObject({
  organization: organizationSlug.describe('URL slug of the organization (/scim/v2/{organization}/); immutable.'),
  roleMappings: z.array(roleMapping).default([]).describe('IdP group → application role and teams; the first match wins.'),
  defaultRole: z.string().min(1).default('member').describe('Role of a member no mapping matches.'),
  membership: z
    .enum(['allUsers', 'mappedGroupsOnly'])
    .default('allUsers')
    .describe('allUsers: every active user is a member; mappedGroupsOnly: only users in a mapped group.'),
  protectedMembers: z.array(z.string().min(1)).default([]).describe('Emails never revoked.'),
  revokeUnmanaged: z.boolean().default(false).describe('Revoke members present in the target that were never provisioned.'),
  dryRun: z.boolean().default(false).describe('Compute plans, apply nothing.'),
  resyncInterval: duration.prefault('5m').describe('Full resync period (repairs drift made in the application).'),
  revocationGuard: revocationGuard
    .prefault({})
    .describe('Revocations per window above the larger of maxCount and ceil(maxFraction × members) are held until approved.'),
  target: targetSpec
    .prefault({ type: 'postgres', postgres: {} })
    .describe("The application's memberships; the reference table app_memberships when unset."),
  tokenRotationGracePeriod: duration
    .prefault('1h')
    .describe('After the scimsync.io/rotate-token annotation changes, how long the previous token stays valid.'),
  onDelete: z
    .enum(['keep', 'revokeAll'])
    .default('keep')
    .describe('On deletion of the ScimConfig: keep the members in the target, or revoke them all (through the revocation guard).'),
});

/**
 * A whole document. metadata keeps every field a Kubernetes object carries (namespace, labels,
 * annotations, uid …); status is allowed so that `kubectl get -o yaml` output loads, and ignored.
 */
export const scimConfigDocument = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.looseObject({ name: z.string().optional() }).optional(),
  spec: scimConfigSpec,
  status: z.unknown().optional(),
});

// The document types are the *input* shapes (what a YAML file or CR holds; every reconciler
// field optional). The reconciler re-parses organizations.spec into ResolvedScimConfigSpec.
export type ScimConfigSpec = z.input<typeof scimConfigSpec>;
export type ScimConfigDocument = z.input<typeof scimConfigDocument>;
export type ResolvedScimConfigSpec = z.output<typeof scimConfigSpec>;
export type TargetSpec = z.output<typeof targetSpec>;
export type HttpTargetSpec = z.output<typeof httpTargetSpec>;
export type PostgresTargetSpec = z.output<typeof postgresTargetSpec>;

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
    pruneNonNullableNulls(value, scimConfigDocument);
    const parsed = scimConfigDocument.safeParse(value);
    if (!parsed.success) {
      for (const problem of describeIssues(parsed.error.issues, scimConfigDocument)) problems.push(`${source} document ${i + 1}: ${problem}`);
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
