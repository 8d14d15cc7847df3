// Bearer-token authentication per organization (RFC 6750). A token opens only its own
// organization; a wrong, revoked, expired or other-organization token is a 401.
import type { RequestHandler } from 'express';
import { scimAuthFailuresTotal } from '../metrics.js';
import { ScimError } from '../scim/errors.js';
import type { Pool } from '../store/pool.js';
import type { TokenCache } from '../store/tokenCache.js';
import { authenticateToken, touchToken } from '../store/tokens.js';
import { AuthFailureLimiter, type AuthLimits } from './authLimiter.js';
import { sendScimError } from './errors.js';

export interface AuthContext {
  organizationId: string;
  organization: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: AuthContext;
  }
}

const TOUCH_EVERY_MS = 60_000;

/**
 * Authenticates SCIM requests. Failed attempts are counted per client address (req.ip: the
 * socket's address, or X-Forwarded-For under TRUST_PROXY) and per organization; over a limit
 * the answer is 429 with Retry-After and a SCIM error body, before the token is looked up.
 * tokens: the process's verified-token cache (src/store/tokenCache.ts); without it every request checks Postgres.
 */
export function bearerAuth(pool: Pool, limits?: AuthLimits, tokens?: TokenCache): RequestHandler {
  const limiter = limits ? new AuthFailureLimiter(limits) : undefined;
  // Series that exist from start (at 0): the first refused request then shows as an increase,
  // and their presence tells Prometheus the ingress is scraped (ScimsyncMetricsAbsent).
  for (const reason of ['missing', 'malformed', 'unknown', 'rate_limited']) scimAuthFailuresTotal.inc({ organization: '', reason }, 0);
  // last_used_at is kept to the minute: remember when this process last wrote it per token,
  // so the hot path does not send an UPDATE with every request.
  const touched = new Map<string, number>();
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const org = String(req.params.org ?? '');
    const address = req.ip ?? req.socket.remoteAddress ?? '';
    const refused = limiter?.check(address, org);
    if (refused) {
      // No organization: the path's name is the caller's, not a stored token's (label inflation).
      scimAuthFailuresTotal.inc({ organization: '', reason: 'rate_limited' });
      res.setHeader('Retry-After', String(refused.retryAfterSeconds));
      const who = refused.scope === 'address' ? 'this client address' : `organization "${org}"`;
      return sendScimError(res, new ScimError(429, undefined, `too many failed authentication attempts from ${who}; retry after ${refused.retryAfterSeconds} s`));
    }
    const deny = (detail: string, reason: string, organization = '') => {
      limiter?.fail(address, org);
      scimAuthFailuresTotal.inc({ organization, reason });
      res.setHeader('WWW-Authenticate', 'Bearer realm="scimsync", error="invalid_token"');
      sendScimError(res, new ScimError(401, undefined, detail));
    };
    if (!m) return deny('missing bearer token: send "Authorization: Bearer <token>"', 'missing');
    const auth = await authenticateToken(pool, org, m[1]!, tokens);
    if ('failure' in auth) return deny(`the bearer token is not valid for organization "${org}" (unknown, revoked or expired)`, auth.failure, auth.organization);
    req.auth = { organizationId: auth.organizationId, organization: auth.organization };
    const now = Date.now();
    if ((touched.get(auth.tokenId) ?? 0) < now - TOUCH_EVERY_MS) {
      touched.set(auth.tokenId, now);
      touchToken(pool, auth.tokenId).catch((err) => req.log.warn({ err }, 'could not record token use'));
    }
    next();
  };
}
