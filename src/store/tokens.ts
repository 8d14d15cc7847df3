// Bearer tokens. The secret is shown once, at creation; the database keeps its SHA-256 hash
// (a 256-bit random secret needs no slow hash) and a short public prefix to find and name it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from './pool.js';

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

export interface AuthenticatedToken {
  tokenId: string;
  organizationId: string;
  organization: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

function newPrefix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
}

/** Issues a token for an organization; the returned secret is never stored. */
export async function createToken(
  db: Queryable,
  organizationId: string,
  opts: { description?: string; expiresAt?: Date } = {},
): Promise<{ token: string; prefix: string }> {
  const prefix = newPrefix();
  const token = `${TOKEN_PREFIX}_${prefix}_${randomBytes(32).toString('base64url')}`;
  await db.query(
    `insert into scim_tokens (organization_id, prefix, token_hash, description, expires_at)
     values ($1::uuid, $2::text, $3::bytea, $4::text, $5::timestamptz)`,
    [organizationId, prefix, sha256(token), opts.description ?? null, opts.expiresAt?.toISOString() ?? null],
  );
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
 * Why a presented token was refused. `organization` is the slug of the organization the stored
 * token belongs to, and only set when the secret matched (so a caller cannot invent label
 * values): "revoked" with an organization means an IdP still sends a token revoked there.
 */
export interface AuthFailure {
  failure: 'malformed' | 'unknown' | 'revoked' | 'expired' | 'wrong_organization';
  organization?: string;
}

/**
 * Checks a presented bearer token for an organization slug. Returns the token's identity, or
 * an AuthFailure for a malformed, unknown, revoked, expired or other-organization token (all
 * answer 401 alike; the reason is for metrics). Every check runs on each request, so a
 * revocation holds from the next request on.
 */
export async function authenticateToken(db: Queryable, organization: string, presented: string): Promise<AuthenticatedToken | AuthFailure> {
  const m = TOKEN_PATTERN.exec(presented);
  const { rows } = await db.query<{ id: string; hash: Buffer; organizationId: string; slug: string; revoked: boolean; expired: boolean }>(
    `select t.id, t.token_hash as hash, t.organization_id as "organizationId", o.slug,
            t.revoked_at is not null as revoked, coalesce(t.expires_at <= now(), false) as expired
       from scim_tokens t join organizations o on o.id = t.organization_id
      where t.prefix = $1::text`,
    [m?.[1] ?? ''],
  );
  const row = rows[0];
  const same = timingSafeEqual(sha256(presented), row?.hash ?? DUMMY_HASH);
  if (!m) return { failure: 'malformed' };
  if (!row || !same) return { failure: 'unknown' };
  if (row.revoked) return { failure: 'revoked', organization: row.slug };
  if (row.expired) return { failure: 'expired', organization: row.slug };
  if (row.slug !== organization) return { failure: 'wrong_organization', organization: row.slug };
  return { tokenId: row.id, organizationId: row.organizationId, organization: row.slug };
}

/** Records use at most once a minute per token, to keep writes off the hot path. */
export async function touchToken(db: Queryable, tokenId: string): Promise<void> {
  await db.query(
    `update scim_tokens set last_used_at = now()
      where id = $1::uuid and (last_used_at is null or last_used_at < now() - interval '1 minute')`,
    [tokenId],
  );
}
