// Records every successful SCIM write in the audit trail: actor (the token's prefix, never the
// secret), operation, resource id and request id — no attribute values. Recorded when the
// response is sent, after the write committed (the store's write transactions are shared by
// every caller; docs/security.md states the gap: a crash between commit and this insert loses
// the entry, never the write).
import type { RequestHandler } from 'express';
import { recordAudit } from '../store/audit.js';
import type { Pool } from '../store/pool.js';

const VERBS: Record<string, string> = { POST: 'create', PUT: 'replace', PATCH: 'patch', DELETE: 'delete' };

/** Token prefix of a scimsync token (scimsync_<prefix>_<secret>); the secret never leaves this function. */
export function tokenPrefix(authorization: string | undefined): string | undefined {
  return /^Bearer\s+scimsync_([a-z0-9]{10})_/i.exec(authorization ?? '')?.[1];
}

export function auditWrites(pool: Pool): RequestHandler {
  return (req, res, next) => {
    const verb = VERBS[req.method];
    if (!verb) return next();
    res.on('finish', () => {
      if (res.statusCode >= 300 || !req.auth) return;
      // /scim/v2/<org>/<Users|Groups>[/<id>]; .search and other POSTs are not writes.
      const m = /^\/scim\/v2\/[^/]+\/(Users|Groups)(?:\/([^/?.][^/?]*))?\/?(?:\?|$)/.exec(req.originalUrl);
      if (!m) return;
      const location = res.getHeader('location');
      const resourceId = m[2] ? decodeURIComponent(m[2]) : typeof location === 'string' ? location.split('/').pop() : undefined;
      recordAudit(pool, {
        organizationId: req.auth.organizationId,
        organization: req.auth.organization,
        actor: `token:${tokenPrefix(req.get('authorization')) ?? 'unknown'}`,
        operation: `${m[1] === 'Users' ? 'User' : 'Group'}.${verb}`,
        resourceId,
        requestId: req.id,
      }).catch((err: unknown) => req.log.error({ err }, 'could not record the audit entry of a SCIM write'));
    });
    next();
  };
}
