// ScimConfig status: what it says (pure, from the organization's status row) and writing it
// (a merge patch to /status, only when something changed). Reasons are listed in docs/operator.md.
import type { OrganizationStatusRow } from '../store/orgStatus.js';
import { mergePatch, GROUP, PLURAL, VERSION, type KubeClients } from './client.js';
import { metaTime, readyCondition, type ConditionInput } from './conditions.js';
import type { ScimConfigCounts, ScimConfigObject, ScimConfigStatus } from './scimConfigObject.js';

export function countsOf(row: OrganizationStatusRow, revokeUnmanaged: boolean): ScimConfigCounts {
  const p = row.lastPlan ?? {};
  const unmanaged = p.unmanaged ?? 0;
  // planSummary counts unmanaged members in revocations too when the org revokes them.
  const extra = Math.max(0, (p.revocations ?? 0) - (revokeUnmanaged ? unmanaged : 0)) + (p.protectedKept ?? 0);
  const drift = { missing: p.grants ?? 0, extra, changed: p.updates ?? 0, unmanaged };
  return {
    users: row.users,
    activeUsers: row.activeUsers,
    groups: row.groups,
    heldRevocations: row.heldRevocations,
    drift,
    driftTotal: drift.missing + drift.extra + drift.changed + drift.unmanaged,
  };
}

/** Synced: from the reconciler's last full resync of the organization. */
export function syncedCondition(row: OrganizationStatusRow, counts: ScimConfigCounts, generation?: number): ConditionInput {
  const base = { type: 'Synced', observedGeneration: generation };
  if (row.lastError) return { ...base, status: 'False', reason: 'TargetUnavailable', message: row.lastError.slice(0, 1000) };
  if (!row.lastFullSyncAt) return { ...base, status: 'Unknown', reason: 'AwaitingFirstSync', message: 'no full resync of the organization has finished yet' };
  const d = counts.drift;
  const summary = `missing ${d.missing}, extra ${d.extra}, changed ${d.changed}, unmanaged ${d.unmanaged}`;
  if (row.lastPlan?.dryRun && counts.driftTotal > 0) return { ...base, status: 'False', reason: 'DriftDetected', message: `dry run: drift not applied (${summary})` };
  if (counts.driftTotal > 0) return { ...base, status: 'True', reason: 'DriftCorrected', message: `the last full resync found and applied drift (${summary})` };
  return { ...base, status: 'True', reason: 'Converged', message: 'the target matched the desired state at the last full resync' };
}

export function revocationsHeldCondition(counts: ScimConfigCounts, generation?: number): ConditionInput {
  return counts.heldRevocations > 0
    ? { type: 'RevocationsHeld', status: 'True', reason: 'RevocationsHeld', message: `${counts.heldRevocations} revocation(s) held by the revocation guard; set the annotation scimsync.io/approve-revocations to a new value to release them`, observedGeneration: generation }
    : { type: 'RevocationsHeld', status: 'False', reason: 'NoneHeld', message: 'no revocations are held', observedGeneration: generation };
}

/** The conditions of a ScimConfig that reconciled (token issued, organization claimed). */
export function healthyConditions(row: OrganizationStatusRow, counts: ScimConfigCounts, token: { prefix: string; secretName: string }, generation?: number): ConditionInput[] {
  const parts: ConditionInput[] = [
    { type: 'TokenIssued', status: 'True', reason: 'TokenIssued', message: `token ${token.prefix} is in Secret ${token.secretName}`, observedGeneration: generation },
    syncedCondition(row, counts, generation),
    revocationsHeldCondition(counts, generation),
  ];
  return [readyCondition(parts, generation), ...parts];
}

/** Ready=False (and the others it implies) for a ScimConfig the operator cannot act on. */
export function failedConditions(reason: 'InvalidSpec' | 'OrganizationConflict', message: string, generation?: number): ConditionInput[] {
  const c = (type: string, status: 'False' | 'Unknown'): ConditionInput => ({ type, status, reason, message, observedGeneration: generation });
  return [c('Ready', 'False'), c('TokenIssued', reason === 'InvalidSpec' ? 'Unknown' : 'False'), c('Synced', reason === 'InvalidSpec' ? 'False' : 'Unknown')];
}

/** metav1.Time of a Postgres timestamp text. */
export const toMetaTime = (pgTime: string | null | undefined) => (pgTime ? metaTime(new Date(pgTime)) : undefined);

/** JSON with sorted keys: equality that ignores key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
}

/** Writes status with a merge patch to the status subresource when it differs; returns whether it wrote. */
export async function writeStatus(clients: KubeClients, obj: ScimConfigObject, status: ScimConfigStatus): Promise<boolean> {
  const merged = { ...obj.status, ...status };
  if (canonical(merged) === canonical(obj.status ?? {})) return false;
  await clients.custom.patchNamespacedCustomObjectStatus(
    { group: GROUP, version: VERSION, plural: PLURAL, namespace: obj.metadata.namespace, name: obj.metadata.name, body: { status } },
    mergePatch(),
  );
  return true;
}
