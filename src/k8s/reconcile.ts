// Reconcile of one ScimConfig (level-based: every pass re-reads the object, the Secret and
// Postgres, so running it twice changes nothing the first did not; controller-runtime's
// Reconciler contract). A thrown error means retry with backoff; the result's requeueAfter
// refreshes the status counts (at least every OPERATOR_STATUS_REFRESH_MS).
import type { Logger } from 'pino';
import { describeIssues } from '../orgs/describeIssues.js';
import { scimConfigSpec, type ScimConfigSpec } from '../orgs/scimConfig.js';
import { markOrganization } from '../store/reconcileQueue.js';
import { approveHolds } from '../store/revocationHolds.js';
import { organizationStatus } from '../store/orgStatus.js';
import { claimOrganization, describeOwner, type Owner } from '../store/orgs.js';
import type { Pool } from '../store/pool.js';
import { GROUP, isNotFound, mergePatch, PLURAL, VERSION, type KubeClients } from './client.js';
import { conditionChanged, findCondition, setConditions, type Condition, type ConditionInput } from './conditions.js';
import type { EventInput, EventRecorder } from './events.js';
import { finalizeScimConfig } from './finalize.js';
import { ANNOTATIONS, FINALIZER, regardingOf, splitKey, tokenSecretName, type ScimConfigObject, type ScimConfigStatus } from './scimConfigObject.js';
import { countsOf, failedConditions, healthyConditions, toMetaTime, writeStatus } from './status.js';
import { ensureToken } from './tokenSecret.js';
import type { ReconcileDeps, ReconcileOutcome } from './reconcileTypes.js';

export type { ReconcileDeps, ReconcileOutcome, ReconcileResult } from './reconcileTypes.js';

export const ownerOf = (obj: ScimConfigObject): Owner => ({ kind: 'kubernetes', ref: `${obj.metadata.namespace}/${obj.metadata.name}`, uid: obj.metadata.uid });

async function getScimConfig(clients: KubeClients, key: string): Promise<ScimConfigObject | undefined> {
  const { namespace, name } = splitKey(key);
  try {
    return (await clients.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as ScimConfigObject;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Adds the finalizer (first sight) with a resourceVersion precondition; returns the updated object. */
async function addFinalizer(clients: KubeClients, obj: ScimConfigObject): Promise<ScimConfigObject> {
  const body = { metadata: { finalizers: [...(obj.metadata.finalizers ?? []), FINALIZER], resourceVersion: obj.metadata.resourceVersion } };
  return (await clients.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, namespace: obj.metadata.namespace, name: obj.metadata.name, body },
    mergePatch(),
  )) as ScimConfigObject;
}

/** Events for conditions that changed into a state an admin should hear about. */
function conditionEvents(before: Condition[] | undefined, after: Condition[]): EventInput[] {
  const out: EventInput[] = [];
  const ready = findCondition(after, 'Ready');
  if (ready && conditionChanged(before, after, 'Ready') && ready.status === 'False' && ['InvalidSpec', 'OrganizationConflict', 'TargetUnavailable'].includes(ready.reason)) {
    out.push({ type: 'Warning', reason: ready.reason, action: 'Reconcile', note: ready.message });
  }
  const held = findCondition(after, 'RevocationsHeld');
  if (held?.status === 'True' && conditionChanged(before, after, 'RevocationsHeld')) out.push({ type: 'Warning', reason: 'RevocationsHeld', action: 'HoldRevocations', note: held.message });
  return out;
}

async function finish(deps: ReconcileDeps, obj: ScimConfigObject, status: ScimConfigStatus, wanted: ConditionInput[], extraEvents: EventInput[] = []): Promise<void> {
  const conditions = setConditions(obj.status?.conditions, wanted);
  await writeStatus(deps.clients, obj, { ...status, observedGeneration: obj.metadata.generation, conditions });
  for (const e of [...extraEvents, ...conditionEvents(obj.status?.conditions, conditions)]) await deps.events.emit(regardingOf(obj), e);
}

/** Acts on scimsync.io/approve-revocations and scimsync.io/requested-sync-at values not handled yet. */
async function handleRequests(deps: ReconcileDeps, obj: ScimConfigObject, organizationId: string, events: EventInput[]): Promise<Partial<ScimConfigStatus>> {
  const a = obj.metadata.annotations ?? {};
  const out: Partial<ScimConfigStatus> = {};
  const approval = a[ANNOTATIONS.approveRevocations];
  if (approval && approval !== obj.status?.lastHandledApproval) {
    // What `scimsync approve` does (src/reconciler/commands.ts).
    const n = await approveHolds(deps.pool, organizationId, { actor: 'operator' });
    await markOrganization(deps.pool, organizationId);
    events.push({ type: 'Normal', reason: 'RevocationsApproved', action: 'ApproveRevocations', note: `${n} held revocation(s) approved; the next pass applies them` });
    out.lastHandledApproval = approval;
  }
  const sync = a[ANNOTATIONS.requestedSyncAt];
  if (sync && sync !== obj.status?.lastHandledReconcileAt) {
    await markOrganization(deps.pool, organizationId);
    out.lastHandledReconcileAt = sync;
  }
  return out;
}

export async function reconcileScimConfig(deps: ReconcileDeps, key: string): Promise<ReconcileOutcome> {
  let obj = await getScimConfig(deps.clients, key);
  if (!obj) return { result: 'success' }; // gone: its finalizer already ran
  if (obj.metadata.deletionTimestamp) return finalizeScimConfig(deps, obj);
  if (!obj.metadata.finalizers?.includes(FINALIZER)) obj = await addFinalizer(deps.clients, obj);
  const generation = obj.metadata.generation;

  const parsed = scimConfigSpec.safeParse(obj.spec);
  if (!parsed.success) {
    const message = describeIssues(parsed.error.issues, scimConfigSpec).map((p) => `spec.${p}`).join('; ');
    await finish(deps, obj, {}, failedConditions('InvalidSpec', message, generation));
    return { result: 'invalid' };
  }
  const spec = parsed.data;
  const claim = await claimOrganization(deps.pool, obj.spec as ScimConfigSpec, ownerOf(obj));
  if (claim.status === 'conflict') {
    const message = `organization "${spec.organization}" is already declared by ${describeOwner(claim.organization.owner)}; nothing was changed`;
    await finish(deps, obj, {}, failedConditions('OrganizationConflict', message, generation));
    // Nothing watches the other owner: look again later.
    return { result: 'conflict', requeueAfter: deps.statusRefreshMs };
  }
  const org = claim.organization;
  const endpoint = deps.endpointFor(org.slug);
  const events: EventInput[] = [];
  const token = await ensureToken({ clients: deps.clients, pool: deps.pool, endpoint }, obj, org.id, spec.tokenRotationGracePeriod);
  if (token.event) events.push(token.event);
  const requests = await handleRequests(deps, obj, org.id, events);
  const row = await organizationStatus(deps.pool, org.id);
  const counts = countsOf(row, spec.revokeUnmanaged);
  const secretName = tokenSecretName(obj.metadata.name);
  const status: ScimConfigStatus = {
    endpoint,
    tokenSecretName: secretName,
    tokenCreatedAt: toMetaTime(token.token.createdAt),
    lastFullSyncTime: toMetaTime(row.lastFullSyncAt),
    ...(token.handledRotation ? { lastHandledRotation: token.handledRotation } : {}),
    ...requests,
    counts,
  };
  await finish(deps, obj, status, healthyConditions(row, counts, { prefix: token.token.prefix, secretName }, generation), events);
  return { result: 'success', requeueAfter: deps.statusRefreshMs };
}
