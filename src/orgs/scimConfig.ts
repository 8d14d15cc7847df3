// The ScimConfig document: the same shape locally (YAML files) and as the Kubernetes CRD
// (apiVersion scimsync.io/v1alpha1, kind ScimConfig). spec.organization is the URL slug.
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { describeIssues } from './describeIssues.js';

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

/** Maps an IdP group (displayName, case-insensitively, or externalId) to an application role. */
export const roleMapping = z.strictObject({
  group: z.string().min(1),
  role: z.string().min(1),
  teams: z.array(z.string().min(1)).default([]),
});

const secretRef = z.strictObject({ name: z.string().min(1), key: z.string().min(1) });

export const httpTargetSpec = z.strictObject({
  baseUrl: z.string().url(),
  /** The {organization} path segment; the organization slug when unset. */
  organization: z.string().min(1).optional(),
  /** Local mode: the bearer token itself, or the name of an environment variable holding it. */
  token: z.string().min(1).optional(),
  tokenEnv: z.string().min(1).optional(),
  /** Kubernetes: a Secret key, mounted under RECONCILER_SECRETS_DIR/<name>/<key>. */
  tokenSecretRef: secretRef.optional(),
  timeout: duration.prefault('10s'),
  maxRetries: z.number().int().min(0).max(20).default(5),
  /** First retry delay; doubled per attempt, full jitter, capped at 10s. */
  retryBaseDelay: duration.prefault('200ms'),
  /** A Retry-After longer than this is not waited for in-process: the item is requeued instead. */
  maxRetryAfter: duration.prefault('30s'),
  pageSize: z.number().int().positive().max(10_000).default(500),
});

export const postgresTargetSpec = z.strictObject({
  /** The application's database; the scimsync database itself when unset. */
  connection: z
    .strictObject({ url: z.string().min(1).optional(), urlEnv: z.string().min(1).optional(), urlSecretRef: secretRef.optional() })
    .optional(),
  /** Table name, optionally schema-qualified ("app.memberships"). Needs a unique key on (organization, email). */
  table: z.string().min(1).default('app_memberships'),
  columns: z
    .strictObject({
      organization: z.string().min(1).default('organization'),
      email: z.string().min(1).default('email'),
      role: z.string().min(1).default('role'),
      /** A text[] column; omit when the application has no teams. */
      teams: z.string().min(1).nullable().default('teams'),
      displayName: z.string().min(1).nullable().default(null),
      externalId: z.string().min(1).nullable().default(null),
    })
    .prefault({}),
  /** Value written to the organization column; the organization slug when unset. */
  organizationValue: z.string().min(1).optional(),
  pageSize: z.number().int().positive().max(10_000).default(1000),
});

export const targetSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('http'), http: httpTargetSpec }),
  z.strictObject({ type: z.literal('postgres'), postgres: postgresTargetSpec.prefault({}) }),
]);

/**
 * Revocations allowed per sliding window before the rest are held for `scimsync approve`:
 * the larger of maxCount and ceil(maxFraction × members); either may be null to use only the other.
 */
export const revocationGuard = z.strictObject({
  enabled: z.boolean().default(true),
  maxFraction: z.number().min(0).max(1).nullable().default(0.1),
  maxCount: z.number().int().min(0).nullable().default(10),
  window: duration.prefault('1h'),
});

/**
 * spec fields: the organization, the reconciler's configuration (issue 3) and the operator's
 * (issue 8). Strict at every level: an unknown field (`roleMapping:` for `roleMappings:`) is an
 * error, as the Kubernetes API server reports it under strict field validation, instead of a
 * typo that silently leaves a safety setting at its default.
 */
export const scimConfigSpec = z
  .strictObject({
    organization: organizationSlug,
    roleMappings: z.array(roleMapping).default([]),
    defaultRole: z.string().min(1).default('member'),
    /** allUsers: every active user is a member; mappedGroupsOnly: only users in a mapped group. */
    membership: z.enum(['allUsers', 'mappedGroupsOnly']).default('allUsers'),
    protectedMembers: z.array(z.string().min(1)).default([]),
    revokeUnmanaged: z.boolean().default(false),
    dryRun: z.boolean().default(false),
    resyncInterval: duration.prefault('5m'),
    revocationGuard: revocationGuard.prefault({}),
    /** The application's memberships; the reference table app_memberships when unset. */
    target: targetSpec.prefault({ type: 'postgres', postgres: {} }),
    /** Operator: after `scimsync.io/rotate-token`, how long the previous token stays valid. */
    tokenRotationGracePeriod: duration.prefault('1h'),
    /** Operator, on deletion of the ScimConfig: keep the members in the target, or revoke them all (through the guard). */
    onDelete: z.enum(['keep', 'revokeAll']).default('keep'),
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
