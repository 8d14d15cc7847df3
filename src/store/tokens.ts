// Bearer tokens. The secret is shown once, at creation; the database keeps its SHA-256 hash
// (a 256-bit random secret needs no slow hash) and a short public prefix to find and name it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from './pool.js';
import { auditRowsCte, type AuditActor } from './audit.js';
import type { AuthenticatedToken, TokenCache } from './tokenCache.js';

const TOKEN_PREFIX = 'scimsync';
const TOKEN_PATTERN = /^scimsync_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$/;

export interface TokenInfo {
  prefix: string;
  status: 'active' | 'revoked' | 'expired';
  description: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

// Defined beside the cache that holds it, so tokens.ts and tokenCache.ts do not import each other.
export type { AuthenticatedToken } from './tokenCache.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

function newPrefix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
}

/** Thrown by createToken for a deleted organization (or one that does not exist). */
export class OrganizationDeletedError extends Error {
  override name = 'OrganizationDeletedError';
}

/**
 * Issues a token for an organization; the returned secret is never stored. issuedBy: 'cli'
 * (scimsync token create, the default) or 'operator' (a ScimConfig's Secret). Refuses a
 * deleted organization with OrganizationDeletedError: the insert reads the organization row
 * FOR SHARE, so it cannot slip in beside a concurrent deleteOrganization (which locks the row
 * FOR UPDATE and then revokes every token).
 */
export async function createToken(
  db: Queryable,
  organizationId: string,
  opts: { description?: string; expiresAt?: Date; issuedBy?: 'cli' | 'operator'; audit?: AuditActor & { operation?: 'token.create' | 'token.rotate' } } = {},
): Promise<{ token: string; prefix: string }> {
  const prefix = newPrefix();
  const token = `${TOKEN_PREFIX}_${prefix}_${randomBytes(32).toString('base64url')}`;
  // With `audit`, the entry (resource id: the prefix) is written by the same statement.
  const { rowCount } = await db.query(
    `with t as (
       insert into scim_tokens (organization_id, prefix, token_hash, description, expires_at, issued_by)
       select o.id, $2::text, $3::bytea, $4::text, $5::timestamptz, $6::text
         from organizations o where o.id = $1::uuid and o.deleted_at is null
          for share
       returning organization_id, prefix as resource_id
     )${opts.audit ? `, ${auditRowsCte('t', '$7', '$8')}` : ''}
     select resource_id from t`,
    [organizationId, prefix, sha256(token), opts.description ?? null, opts.expiresAt?.toISOString() ?? null, opts.issuedBy ?? 'cli',
      ...(opts.audit ? [opts.audit.actor, opts.audit.operation ?? 'token.create'] : [])],
  );
  if (!rowCount) throw new OrganizationDeletedError(`organization ${organizationId} is deleted: it gets no new tokens until it is declared again`);
  return { token, prefix };
}

export async function listTokens(db: Queryable, organizationId: string): Promise<TokenInfo[]> {
  const { rows } = await db.query<TokenInfo>(
    `select prefix, description,
            to_json(created_at)#>>'{}' as "createdAt", to_json(last_used_at)#>>'{}' as "lastUsedAt",
            to_json(expires_at)#>>'{}' as "expiresAt", to_json(revoked_at)#>>'{}' as "revokedAt",
            case when revoked_at is not null then 'revoked' when expires_at <= now() then 'expired' else 'active' end as status
       from scim_tokens where organization_id = $1::uuid order by created_at`,
    [organizationId],
  );
  return rows;
}

/** Revokes a token by prefix; returns false when the organization has no such live token. */
export async function revokeToken(db: Queryable, organizationId: string, prefix: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `update scim_tokens set revoked_at = now()
      where organization_id = $1::uuid and prefix = $2::text and revoked_at is null`,
    [organizationId, prefix],
  );
  return (rowCount ?? 0) > 0;
}

// Compared against when the prefix is unknown, so that a miss costs the same as a hit.
const DUMMY_HASH = sha256('scimsync-no-such-token');

/**
/**
 * Why a presented token was refused. `organization` is the slug of the organization the stored
 * token belongs to, and only set when the secret matched (so a caller cannot invent label
 * values): "revoked" with an organization means an IdP still sends a token revoked there (a
 * token of a deleted organization counts as revoked: deletion revokes its tokens).
 */
export interface AuthFailure {
  failure: 'malformed' | 'unknown' | 'revoked' | 'expired' | 'wrong_organization';
  organization?: string;
}

/**
 * Checks a presented bearer token for an organization slug. Returns the token's identity, or
 * an AuthFailure for a malformed, unknown, revoked, expired or other-organization token, or any
 * token of a deleted organization (all answer 401 alike; the reason is for metrics).
 * With a cache (tokenCache.ts), a token verified within the last few seconds is accepted
 * without a round trip while its notification connection is up; a revocation or an
 * organization's deletion empties the cache of every process through NOTIFY, so it holds
 * within milliseconds. Without one (or while the connection is down) every check runs in Postgres.
 */
export async function authenticateToken(
  db: Queryable,
  organization: string,
  presented: string,
  cache?: TokenCache,
): Promise<AuthenticatedToken | AuthFailure> {
  const hash = sha256(presented);
  // The key is the SHA-256 of the secret (never the secret); a Map lookup by it reveals
  // nothing usable through timing, as a hash preimage is needed to aim at an entry.
  const key = cache?.active ? hash.toString('hex') : undefined;
  if (key) {
    const hit = cache!.get(key);
    if (hit && hit.organization === organization) return hit;
  }
  const ticket = cache?.ticket() ?? -1;
  const startedAt = Date.now();
  const m = TOKEN_PATTERN.exec(presented);
  const { rows } = await db.query<{ id: string; hash: Buffer; organizationId: string; slug: string; revoked: boolean; expired: boolean; expiresInMs: number | null }>({
    name: 'scimsync_authenticate_token',
    text: `select t.id, t.token_hash as hash, t.organization_id as "organizationId", o.slug,
            (t.revoked_at is not null or o.deleted_at is not null) as revoked, coalesce(t.expires_at <= now(), false) as expired,
            (extract(epoch from t.expires_at - now()) * 1000)::float8 as "expiresInMs"
       from scim_tokens t join organizations o on o.id = t.organization_id
      where t.prefix = $1::text`,
    values: [m?.[1] ?? ''],
  });
  const row = rows[0];
  const same = timingSafeEqual(hash, row?.hash ?? DUMMY_HASH);
  if (!m) return { failure: 'malformed' };
  if (!row || !same) return { failure: 'unknown' };
  if (row.revoked) return { failure: 'revoked', organization: row.slug };
  if (row.expired) return { failure: 'expired', organization: row.slug };
  if (row.slug !== organization) return { failure: 'wrong_organization', organization: row.slug };
  const token = { tokenId: row.id, organizationId: row.organizationId, organization: row.slug };
  if (cache) cache.put(ticket, key ?? hash.toString('hex'), token, startedAt, row.expiresInMs);
  return token;
}

/** Records use at most once a minute per token, to keep writes off the hot path. */
export async function touchToken(db: Queryable, tokenId: string): Promise<void> {
  await db.query(
    `update scim_tokens set last_used_at = now()
      where id = $1::uuid and (last_used_at is null or last_used_at < now() - interval '1 minute')`,
    [tokenId],
  );
}

/** A token row as the operator manages it (never the secret itself). */
export interface ManagedToken {
  id: string;
  prefix: string;
  description: string | null;
  issuedBy: 'cli' | 'operator';
  createdAt: string;
  /** Set on a token rotated out: it is refused from then on (the rotation grace period's end). */
  expiresAt: string | null;
}

const MANAGED_COLUMNS = `id, prefix, description, issued_by as "issuedBy", to_json(created_at)#>>'{}' as "createdAt", to_json(expires_at)#>>'{}' as "expiresAt"`;
const LIVE = `revoked_at is null and (expires_at is null or expires_at > now())`;

/**
 * The organization's live token that `presented` is (its hash compared in constant time), or
 * undefined: what the operator asks of the token in a ScimConfig's Secret.
 */
export async function findLiveToken(db: Queryable, organizationId: string, presented: string): Promise<ManagedToken | undefined> {
  const m = TOKEN_PATTERN.exec(presented);
  const { rows } = await db.query<ManagedToken & { hash: Buffer }>(
    `select ${MANAGED_COLUMNS}, token_hash as hash from scim_tokens
      where prefix = $1::text and organization_id = $2::uuid and ${LIVE}`,
    [m?.[1] ?? '', organizationId],
  );
  const row = rows[0];
  const same = timingSafeEqual(sha256(presented), row?.hash ?? DUMMY_HASH);
  if (!row || !same) return undefined;
  const { hash: _hash, ...token } = row;
  return token;
}

/** Live tokens the operator issued for the organization, oldest first. */
export async function liveOperatorTokens(db: Queryable, organizationId: string): Promise<ManagedToken[]> {
  const { rows } = await db.query<ManagedToken>(
    `select ${MANAGED_COLUMNS} from scim_tokens where organization_id = $1::uuid and issued_by = 'operator' and ${LIVE} order by created_at`,
    [organizationId],
  );
  return rows;
}

/** Lets live tokens expire at `at` at the latest (a rotated-out token's grace period). */
export async function expireTokens(db: Queryable, organizationId: string, ids: readonly string[], at: Date, audit?: AuditActor): Promise<void> {
  // With `audit`, one entry per token (token.expire, resource id: the prefix) in the same statement.
  await db.query(
    `with t as (
       update scim_tokens set expires_at = least(coalesce(expires_at, $3::timestamptz), $3::timestamptz)
        where organization_id = $1::uuid and id = any($2::uuid[]) and revoked_at is null
       returning organization_id, prefix as resource_id
     )${audit ? `, ${auditRowsCte('t', '$4', "'token.expire'")}` : ''}
     select 1 from t`,
    [organizationId, ids, at.toISOString(), ...(audit ? [audit.actor] : [])],
  );
}

/** Revokes live tokens by id; returns how many were live. With `audit`, one token.revoke entry per token, same statement. */
export async function revokeTokens(db: Queryable, organizationId: string, ids: readonly string[], audit?: AuditActor): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await db.query(
    `with t as (
       update scim_tokens set revoked_at = now() where organization_id = $1::uuid and id = any($2::uuid[]) and revoked_at is null
       returning organization_id, prefix as resource_id
     )${audit ? `, ${auditRowsCte('t', '$3', "'token.revoke'")}` : ''}
     select 1 from t`,
    [organizationId, ids, ...(audit ? [audit.actor] : [])],
  );
  return rowCount ?? 0;
}
