// Deletion of a ScimConfig (finalizer scimsync.io/revoke-token). Garbage collection of the
// token Secret is asynchronous and revokes nothing, so before the object may go:
// 1. the organization is deleted in one transaction (deleteOrganization): every token revoked
//    (the next SCIM request answers 401), its reconcile_queue items dropped, no more provisioning;
// 2. spec.onDelete revokeAll: every member the target holds (protected members excepted) is
//    revoked by the operator itself, through the revocation guard — revocations the guard holds
//    keep the object Terminating until approved (annotation scimsync.io/approve-revocations);
// 3. the finalizer is removed with a merge patch carrying metadata.resourceVersion, so a
//    concurrent change (another controller's finalizer) makes it a 409 and a retry, never a clobber.
// Every step is idempotent: a retry after a crash repeats nothing harmful.
import { scimConfigSpec, type ResolvedScimConfigSpec } from '../orgs/scimConfig.js';
import { performOp, recordOps, type ApplyContext } from '../reconciler/apply.js';
import { reserveRevocation } from '../reconciler/guard.js';
import { addHolds, approveHolds, approvedEmails } from '../store/revocationHolds.js';
import { makeReconcilerStore } from '../store/reconcilerStore.js';
import { deleteOrganization, findOrganization } from '../store/orgs.js';
import { makeTargetResolver, normalizeEmail, type SecretReader } from '../targets/index.js';
import { GROUP, mergePatch, PLURAL, VERSION } from './client.js';
import { setConditions } from './conditions.js';
import type { ReconcileDeps, ReconcileOutcome } from './reconcileTypes.js';
import { ANNOTATIONS, FINALIZER, regardingOf, type ScimConfigObject } from './scimConfigObject.js';
import { writeStatus } from './status.js';

/** Target credentials for onDelete revokeAll: mounted files, or the API (TARGET_SECRETS=kubernetes). */
export type FinalizeDeps = ReconcileDeps & { secretsDir?: string; readSecret?: SecretReader };

/** Revokes every member of the target through the guard; returns the emails held. */
async function revokeAllMembers(deps: FinalizeDeps & { secretsDir: string }, organizationId: string, slug: string, spec: ResolvedScimConfigSpec): Promise<string[]> {
  const targets = makeTargetResolver({ pool: deps.pool, secretsDir: deps.secretsDir, readSecret: deps.readSecret });
  try {
    const target = await targets.targetFor({ slug, spec });
    const keep = new Set(spec.protectedMembers.map(normalizeEmail));
    const emails: string[] = [];
    for await (const page of target.list()) for (const m of page) if (!keep.has(normalizeEmail(m.email))) emails.push(m.email);
    const approved = await approvedEmails(deps.pool, organizationId);
    // The reconciler's statements over the operator's pool: the revocations go through the same
    // guard reservations, member locks and event records as a reconciler's.
    const store = makeReconcilerStore(deps.pool);
    const ctx: ApplyContext = { organizationId, target, workerId: 'operator', log: deps.log };
    const held: { email: string; reason: string }[] = [];
    for (const email of emails) {
      const isApproved = approved.has(email);
      const reservation = isApproved ? undefined : await reserveRevocation(store, organizationId, spec.revocationGuard, emails.length, email);
      if (reservation && !reservation.id) {
        held.push({ email, reason: 'ScimConfig deleted with onDelete: revokeAll' });
        continue;
      }
      const done = await performOp(ctx, { kind: 'revoke', email, reason: 'deprovisioned', approved: isApproved }, undefined, reservation?.id);
      await store.withMemberLock(organizationId, email, (tx) => recordOps(ctx, tx, [done]));
      if (done.outcome !== 'ok') throw done.error instanceof Error ? done.error : new Error(`revoking a member failed: ${String(done.error)}`);
    }
    await addHolds(deps.pool, organizationId, held);
    return held.map((h) => h.email);
  } finally {
    await targets.close();
  }
}

async function removeFinalizer(deps: ReconcileDeps, obj: ScimConfigObject): Promise<void> {
  const body = { metadata: { finalizers: (obj.metadata.finalizers ?? []).filter((f) => f !== FINALIZER), resourceVersion: obj.metadata.resourceVersion } };
  await deps.clients.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, namespace: obj.metadata.namespace, name: obj.metadata.name, body },
    mergePatch(),
  );
}

export async function finalizeScimConfig(deps: FinalizeDeps, obj: ScimConfigObject): Promise<ReconcileOutcome> {
  if (!obj.metadata.finalizers?.includes(FINALIZER)) return { result: 'success' };
  const ref = `${obj.metadata.namespace}/${obj.metadata.name}`;
  const parsed = scimConfigSpec.safeParse(obj.spec);
  const slug = parsed.success ? parsed.data.organization : (obj.spec as { organization?: unknown } | undefined)?.organization;
  const org = typeof slug === 'string' ? await findOrganization(deps.pool, slug) : undefined;
  // Only the organization this ScimConfig owns: a conflicting one never claimed anything.
  if (org && org.owner?.kind === 'kubernetes' && org.owner.ref === ref) {
    const started = performance.now();
    const deleted = await deleteOrganization(deps.pool, org.slug, `ScimConfig ${ref}`, { allow: (o) => o?.kind === 'kubernetes' && o.ref === ref, audit: { actor: 'operator' } });
    if (deleted.status === 'deleted' && !deleted.alreadyDeleted) {
      deps.log.info({ object: ref, organization: org.slug, tokensRevoked: deleted.tokensRevoked, queueItemsDropped: deleted.queueItemsDropped, ms: Math.round(performance.now() - started) }, 'ScimConfig deleted: organization tokens revoked, provisioning stopped');
      await deps.events.emit(regardingOf(obj), { type: 'Normal', reason: 'TokenRevoked', action: 'RevokeTokens', note: `${deleted.tokensRevoked} token(s) of organization ${org.slug} revoked and its provisioning stopped (onDelete: ${parsed.success ? parsed.data.onDelete : 'keep'})` });
    }
    if (parsed.success && parsed.data.onDelete === 'revokeAll') {
      const approval = obj.metadata.annotations?.[ANNOTATIONS.approveRevocations];
      if (approval && approval !== obj.status?.lastHandledApproval) {
        await approveHolds(deps.pool, org.id, { actor: 'operator' });
        await writeStatus(deps.clients, obj, { lastHandledApproval: approval });
      }
      const held = await revokeAllMembers({ ...deps, secretsDir: deps.secretsDir ?? '/var/run/secrets/scimsync' }, org.id, org.slug, parsed.data);
      if (held.length) {
        const message = `${held.length} revocation(s) of onDelete: revokeAll held by the revocation guard; set scimsync.io/approve-revocations to a new value to release them (the ScimConfig stays until then)`;
        const conditions = setConditions(obj.status?.conditions, [{ type: 'RevocationsHeld', status: 'True', reason: 'RevocationsHeld', message, observedGeneration: obj.metadata.generation }]);
        await writeStatus(deps.clients, obj, { conditions });
        await deps.events.emit(regardingOf(obj), { type: 'Warning', reason: 'RevocationsHeld', action: 'HoldRevocations', note: message });
        return { result: 'requeue', requeueAfter: deps.statusRefreshMs };
      }
    }
  }
  await removeFinalizer(deps, obj);
  return { result: 'deleted' };
}
