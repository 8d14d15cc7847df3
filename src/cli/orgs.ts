// `scimsync org list|delete`, and what `scimsync start` does with the organizations it is
// given: the local form of a ScimConfig's lifecycle (create, update, "Delete Configuration").
import path from 'node:path';
import type { Logger } from 'pino';
import type { ScimConfigDocument } from '../orgs/scimConfig.js';
import type { Pool } from '../store/pool.js';
import { applyFileDeclarations, BUILTIN_DEMO_REF, deleteOrganization, describeOwner, listOrganizations, type Owner } from '../store/orgs.js';
import { parseArgs } from './args.js';

export interface OrgCliContext {
  pool: Pool;
  log: Logger;
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: scimsync org list | org delete <org>';

function ownerColumn(owner: Owner | null): string {
  if (!owner) return '-';
  return owner.kind === 'file' && owner.ref === BUILTIN_DEMO_REF ? 'builtin' : `${owner.kind}:${owner.ref}`;
}

export async function orgCommand(argv: string[], ctx: OrgCliContext): Promise<number> {
  const [verb, slug, ...extra] = parseArgs(argv).positional;
  if (verb === 'list' && !slug) {
    ctx.out(['ORGANIZATION', 'OWNER', 'DELETED', 'LIVE TOKENS'].join('\t'));
    for (const o of await listOrganizations(ctx.pool)) ctx.out([o.slug, ownerColumn(o.owner), o.deletedAt ?? '-', String(o.liveTokens)].join('\t'));
    return 0;
  }
  if (verb !== 'delete' || !slug || extra.length) {
    ctx.err(USAGE);
    return 2;
  }
  // A Kubernetes ScimConfig would declare it again at its next reconcile: delete the resource.
  const r = await deleteOrganization(ctx.pool, slug, 'scimsync org delete', { allow: (owner) => owner?.kind !== 'kubernetes', audit: { actor: 'cli' } });
  if (r.status === 'not-found') {
    ctx.err(`unknown organization "${slug}" (scimsync org list shows them)`);
    return 1;
  }
  if (r.status === 'refused') {
    ctx.err(`organization "${slug}" is declared by ${describeOwner(r.organization.owner)}: delete that resource instead (kubectl delete scimconfig); nothing was changed`);
    return 1;
  }
  const { tokensRevoked, queueItemsDropped, alreadyDeleted, organization } = r;
  ctx.log.warn({ organization: slug, actor: r.actor, tokensRevoked, queueItemsDropped, alreadyDeleted }, 'organization deleted');
  ctx.err(
    alreadyDeleted
      ? `organization "${slug}" was already deleted at ${organization.deletedAt}; ${tokensRevoked} token(s) revoked now`
      : `organization "${slug}" deleted: ${tokensRevoked} token(s) revoked, ${queueItemsDropped} queued reconcile item(s) dropped; ` +
          'its SCIM endpoint answers 401 from the next request on and the reconciler no longer provisions it ' +
          "(the application's memberships are left as they are)",
  );
  if (slug === 'demo') {
    ctx.err('a `scimsync start` without --config declares "demo" again and restores it (with no tokens: the revoked ones stay revoked)');
  } else if (organization.owner?.kind === 'file' && organization.owner.ref !== BUILTIN_DEMO_REF) {
    ctx.err(`remove it from ${organization.owner.ref} too: the next \`scimsync start --config\` that declares it restores it (with no tokens)`);
  }
  return 0;
}

/** Thrown when a file declares an organization that another owner (a Kubernetes ScimConfig) declares. */
export class OwnershipConflictError extends Error {
  override name = 'OwnershipConflictError';
}

/**
 * Applies what `scimsync start` was given. With --config, the files are the whole declaration:
 * each organization in them is created, updated or restored (owner kind 'file', owner_ref the
 * path), and every organization a file declared before and no longer does is deleted (tokens
 * revoked, SCIM 401, no provisioning). That includes the built-in `demo` unless a file declares
 * it. Without --config only `demo` is declared and nothing is deleted: a start without --config
 * is the quick start, not a statement that no file declares anything any more.
 * Throws OwnershipConflictError, writing nothing, when a Kubernetes ScimConfig owns one of them.
 */
export async function declareOrganizations(pool: Pool, log: Logger, docs: ScimConfigDocument[], configPath: string | undefined): Promise<void> {
  const owner: Owner = { kind: 'file', ref: configPath === undefined ? BUILTIN_DEMO_REF : path.resolve(configPath) };
  const r = await applyFileDeclarations(pool, docs.map((d) => d.spec), owner, configPath !== undefined);
  if (r.status === 'conflict') {
    const lines = r.conflicts.map((o) => `organization "${o.slug}" is declared by ${describeOwner(o.owner)}`);
    throw new OwnershipConflictError(
      `${configPath} declares organizations that belong to another owner: ${lines.join('; ')}. ` +
        'Remove them from the file, or delete that ScimConfig first; nothing was changed',
    );
  }
  for (const c of r.claimed) {
    if (c.created || c.restored) log.info({ organization: c.organization.slug, owner: describeOwner(owner), restored: c.restored }, c.created ? 'organization created' : 'organization restored');
  }
  for (const d of r.deleted) {
    log.warn(
      { organization: d.organization.slug, actor: d.actor, tokensRevoked: d.tokensRevoked, queueItemsDropped: d.queueItemsDropped },
      'organization deleted: no longer declared',
    );
  }
}
