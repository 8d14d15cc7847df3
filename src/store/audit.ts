// The audit trail (migrations/1796200000000_audit_log.sql): time, organization, actor,
// operation, resource id and request id of every write — no attribute values, so the trail
// holds no directory data beyond resource ids.
import { prepared, type Queryable } from './pool.js';

export interface AuditEntry {
  organizationId?: string;
  organization: string;
  /** "token:<prefix>", "cli" or "operator". */
  actor: string;
  /** <Resource>.<verb>: User.create, Group.patch, token.create, token.revoke, holds.approve, organization.delete, … */
  operation: string;
  resourceId?: string;
  requestId?: string;
}

export interface AuditRecord extends Required<Pick<AuditEntry, 'organization' | 'actor' | 'operation'>> {
  at: string;
  resourceId: string | null;
  requestId: string | null;
}

/**
 * Who writes and in which request, passed from the HTTP layer (or the operator) into the store
 * so the entry is recorded in the write's own transaction: both commit or neither, and entries
 * commit in the order of their writes.
 */
export interface AuditContext {
  /** The organization's slug (kept when the organization is deleted). */
  organization: string;
  /** "token:<prefix>", "cli" or "operator". */
  actor: string;
  requestId?: string;
}

/** An audit context and the operation it records (PUT and PATCH share a store function). */
export interface AuditOperation {
  ctx: AuditContext;
  /** e.g. "User.replace", "Group.patch". */
  operation: string;
}

/**
 * A data-modifying CTE, `, a as (…)`, that records `audit` for the row(s) `source` yields (its
 * column `id`) in the same statement as the write it follows, so both commit or neither; ''
 * without `audit`. Pushes its four parameters onto `values` (the statement's parameter list);
 * `orgParam` is the statement's organization parameter, e.g. "$1".
 */
export function auditEntryCte(values: unknown[], audit: AuditOperation | undefined, orgParam: string, source: string): string {
  if (!audit) return '';
  values.push(audit.ctx.organization, audit.ctx.actor, audit.operation, audit.ctx.requestId ?? null);
  const n = values.length;
  return `, a as (insert into audit_log (organization_id, organization, actor, operation, resource_id, request_id)
               select ${orgParam}::uuid, $${n - 3}::text, $${n - 2}::text, $${n - 1}::text, s.id::text, $${n}::text from ${source} s)`;
}

/** Records `operation` on `resourceId` for `ctx` inside the caller's transaction (`client`). */
export async function recordWrite(client: Queryable, organizationId: string, ctx: AuditContext, operation: string, resourceId: string): Promise<void> {
  await recordAudit(client, { organizationId, organization: ctx.organization, actor: ctx.actor, operation, resourceId, requestId: ctx.requestId });
}

/** Who performs an admin action whose statement finds the organization itself (the operator's token and hold writes). */
export interface AuditActor {
  /** "cli" or "operator". */
  actor: string;
}

/**
 * A data-modifying CTE, `audited`, that records one entry per row of `source` (columns
 * organization_id, resource_id) in the same statement as the write it follows, so both commit
 * or neither. `actor` and `operation` are parameter references such as "$4".
 */
export function auditRowsCte(source: string, actor: string, operation: string): string {
  return `audited as (insert into audit_log (organization_id, organization, actor, operation, resource_id)
            select s.organization_id, o.slug, ${actor}::text, ${operation}::text, s.resource_id
              from ${source} s join organizations o on o.id = s.organization_id)`;
}

/** Records one entry; pass the write's transaction client to commit both or neither. */
export async function recordAudit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.query(prepared(
    `insert into audit_log (organization_id, organization, actor, operation, resource_id, request_id)
     values ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text)`,
    [e.organizationId ?? null, e.organization, e.actor, e.operation, e.resourceId ?? null, e.requestId ?? null],
  ));
}

/** The newest `limit` entries of an organization, newest first. */
export async function listAudit(db: Queryable, organization: string, limit: number): Promise<AuditRecord[]> {
  const { rows } = await db.query<AuditRecord>(
    `select at, organization, actor, operation, resource_id as "resourceId", request_id as "requestId"
       from audit_log where organization = $1::text order by at desc, id desc limit $2::int`,
    [organization, limit],
  );
  return rows;
}

/** Deletes entries older than `days` days (AUDIT_RETENTION_DAYS); returns how many. */
export async function pruneAudit(db: Queryable, days: number): Promise<number> {
  const { rowCount } = await db.query(`delete from audit_log where at < clock_timestamp() - make_interval(days => $1::int)`, [days]);
  return rowCount ?? 0;
}
