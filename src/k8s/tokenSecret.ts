// The organization's bearer token and the Secret `<name>-scim-token` that carries it.
// Postgres keeps only the hash (src/store/tokens.ts, the module `scimsync token create` uses);
// the Secret is the one place the token itself lives. Decisions, all idempotent:
// - the Secret's token is a live token of the organization → keep it (revoke operator tokens
//   that are neither it nor in a rotation grace period: leftovers of a failed Secret write);
// - no Secret, or its token is not live (deleted Secret, edited, revoked by hand) → revoke the
//   operator's live tokens, issue a new one (Event TokenIssued, or TokenReissued if one existed);
// - scimsync.io/rotate-token has a value not handled yet → the current token expires after
//   spec.tokenRotationGracePeriod, a new one goes into the Secret (Event TokenRotated). The new
//   token's description names the rotation, so a crash before the status write does not rotate twice.
import type { V1Secret } from '@kubernetes/client-node';
import { createToken, expireTokens, findLiveToken, liveOperatorTokens, revokeTokens, type ManagedToken } from '../store/tokens.js';
import type { Pool } from '../store/pool.js';
import { isNotFound, type KubeClients } from './client.js';
import type { EventInput } from './events.js';
import { MANAGED_BY, tokenSecretName, type ScimConfigObject } from './scimConfigObject.js';

export interface TokenOutcome {
  token: ManagedToken;
  /** The rotation value now handled (echoed in status.lastHandledRotation). */
  handledRotation?: string;
  event?: EventInput;
}

export interface TokenContext {
  clients: KubeClients;
  pool: Pool;
  endpoint: string;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

const describeToken = (obj: ScimConfigObject, rotation?: string) =>
  `ScimConfig ${obj.metadata.namespace}/${obj.metadata.name}${rotation === undefined ? '' : ` rotation ${rotation}`}`.slice(0, 200);

async function readSecret(clients: KubeClients, obj: ScimConfigObject): Promise<V1Secret | undefined> {
  try {
    return await clients.core.readNamespacedSecret({ name: tokenSecretName(obj.metadata.name), namespace: obj.metadata.namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Creates or replaces (resourceVersion-guarded) the Secret with the token and endpoint. */
async function writeSecret(ctx: TokenContext, obj: ScimConfigObject, existing: V1Secret | undefined, token: string): Promise<void> {
  const body: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: tokenSecretName(obj.metadata.name),
      namespace: obj.metadata.namespace,
      labels: { ...existing?.metadata?.labels, ...MANAGED_BY },
      annotations: existing?.metadata?.annotations,
      resourceVersion: existing?.metadata?.resourceVersion,
      // Garbage collection deletes the Secret with its ScimConfig (asynchronously: the
      // finalizer, not this, revokes the token).
      ownerReferences: [{ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid, controller: true }],
    },
    type: 'Opaque',
    data: { token: b64(token), endpoint: b64(ctx.endpoint) },
  };
  if (existing) await ctx.clients.core.replaceNamespacedSecret({ name: body.metadata!.name!, namespace: obj.metadata.namespace, body });
  else await ctx.clients.core.createNamespacedSecret({ namespace: obj.metadata.namespace, body });
}

/** The operator's actions are audited as actor "operator" (docs/security.md), each in its write's statement. */
const OPERATOR = { actor: 'operator' } as const;

async function issue(ctx: TokenContext, obj: ScimConfigObject, organizationId: string, secret: V1Secret | undefined, rotation?: string): Promise<ManagedToken> {
  const audit = { ...OPERATOR, operation: rotation === undefined ? 'token.create' : 'token.rotate' } as const;
  const { token, prefix } = await createToken(ctx.pool, organizationId, { description: describeToken(obj, rotation), issuedBy: 'operator', audit });
  await writeSecret(ctx, obj, secret, token);
  const issued = await findLiveToken(ctx.pool, organizationId, token);
  if (!issued) throw new Error(`token ${prefix} was revoked while it was being issued`);
  return issued;
}

/** Brings the token and its Secret to the state described above; returns the current token. */
export async function ensureToken(ctx: TokenContext, obj: ScimConfigObject, organizationId: string, gracePeriodMs: number): Promise<TokenOutcome> {
  const secret = await readSecret(ctx.clients, obj);
  const presented = unb64(secret?.data?.token);
  const found = presented ? await findLiveToken(ctx.pool, organizationId, presented) : undefined;
  // A token already rotated out (expiring) is not the current one.
  const current = found && found.expiresAt === null ? found : undefined;
  const live = await liveOperatorTokens(ctx.pool, organizationId);
  const rotation = obj.metadata.annotations?.['scimsync.io/rotate-token'];
  const rotate = rotation !== undefined && rotation !== '' && rotation !== obj.status?.lastHandledRotation;

  if (!current) {
    const revoked = await revokeTokens(ctx.pool, organizationId, live.map((t) => t.id), OPERATOR);
    const token = await issue(ctx, obj, organizationId, secret, rotate ? rotation : undefined);
    const reissued = revoked > 0 || presented !== undefined;
    return {
      token,
      handledRotation: rotate ? rotation : undefined,
      event: reissued
        ? { type: 'Warning', reason: 'TokenReissued', action: 'IssueToken', note: `Secret ${tokenSecretName(obj.metadata.name)} ${secret ? 'no longer held a live token' : 'was missing'}: ${revoked} old token(s) revoked, new token ${token.prefix} issued` }
        : { type: 'Normal', reason: 'TokenIssued', action: 'IssueToken', note: `token ${token.prefix} issued into Secret ${tokenSecretName(obj.metadata.name)}` },
    };
  }

  // Leftovers, live operator tokens that are neither current nor in a grace period: newer
  // ones were issued but never reached the Secret (a failed write) and are revoked; older ones
  // are the predecessor of a rotation interrupted before its grace period was set.
  const others = live.filter((t) => t.id !== current.id && t.expiresAt === null);
  await revokeTokens(ctx.pool, organizationId, others.filter((t) => t.createdAt > current.createdAt).map((t) => t.id), OPERATOR);
  const predecessors = others.filter((t) => t.createdAt <= current.createdAt).map((t) => t.id);
  if (predecessors.length) await expireTokens(ctx.pool, organizationId, predecessors, new Date(Date.now() + gracePeriodMs), OPERATOR);
  if (rotate && current.description !== describeToken(obj, rotation)) {
    // New token into the Secret first, then the grace period of the old one: a failure in
    // between leaves the old token fully valid and the rotation is simply tried again.
    const token = await issue(ctx, obj, organizationId, secret, rotation);
    const until = new Date(Date.now() + gracePeriodMs);
    await expireTokens(ctx.pool, organizationId, [current.id], until, OPERATOR);
    return {
      token,
      handledRotation: rotation,
      event: { type: 'Normal', reason: 'TokenRotated', action: 'RotateToken', note: `token ${token.prefix} issued into Secret ${tokenSecretName(obj.metadata.name)}; previous token ${current.prefix} stays valid until ${until.toISOString()}` },
    };
  }
  if (unb64(secret?.data?.endpoint) !== ctx.endpoint || secret?.metadata?.labels?.['app.kubernetes.io/managed-by'] !== 'scimsync') {
    await writeSecret(ctx, obj, secret, presented!);
  }
  return { token: current, handledRotation: rotate ? rotation : undefined };
}
