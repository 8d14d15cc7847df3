// The audit context of a SCIM write: actor (the token's prefix, never the secret) and request
// id. The store records the entry in the write's own transaction (src/store/audit.ts), so an
// acknowledged write always has its entry and entries commit in write order.
import type { Request } from 'express';
import type { AuditContext } from '../store/audit.js';

/** Token prefix of a scimsync token (scimsync_<prefix>_<secret>); the secret never leaves this function. */
export function tokenPrefix(authorization: string | undefined): string | undefined {
  return /^Bearer\s+scimsync_([a-z0-9]{10})_/i.exec(authorization ?? '')?.[1];
}

/** The audit context of an authenticated SCIM request (actor `token:<prefix>`, request id). */
export function auditOf(req: Request): AuditContext {
  return {
    organization: req.auth!.organization,
    actor: `token:${tokenPrefix(req.get('authorization')) ?? 'unknown'}`,
    requestId: req.id,
  };
}
