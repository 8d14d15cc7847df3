// Filters (RFC 7644 §3.4.2.2) and sortBy (§3.4.2.3) translated to SQL over scim_users and
// scim_groups. Builds text and parameters only; values are never interpolated, every
// parameter carries an explicit cast. The semantics match src/scim/filter/evaluate.ts (see
// its header); test/filterSql.test.ts checks both against the same rows.
//
// Every predicate produced here is two-valued: "not" and "ne" wrap their operand in
// coalesce(…, false), so an absent attribute is "ne" anything (RFC 7644 §3.4.2.2) and
// "not (displayName eq x)" matches a user without a displayName. Leaves stay bare so that
// "userName eq" remains sargable on scim_users_user_name_idx.
import { badRequest } from '../scim/errors.js';
import { type CompareOp, type FilterNode, type FilterValue, normalizeDateTime } from '../scim/filter.js';
import { type AttrPath, findAttr, formatPath } from '../scim/paths.js';
import type { AttributeDef } from '../scim/schemas.js';

type ColumnType = 'text' | 'uuid' | 'boolean' | 'timestamptz' | 'numeric';
interface Column { sql: string; type: ColumnType }

/** A multi-valued attribute kept in a table: "from … where <correlation>" and its sub-attributes. */
interface Relation { from: string; subs: Record<string, Column> }

export interface SqlTarget {
  /** Table alias the expressions use: u for "scim_users u", g for "scim_groups g". */
  alias: 'u' | 'g';
  /** The jsonb column with the stored SCIM representation. */
  resource: string;
  /** Attributes with a column of their own, by canonical path (formatPath). */
  columns: Record<string, Column>;
  /** Multi-valued attributes kept in scim_group_members, by attribute name. */
  relations: Record<string, Relation>;
  /** Paths nothing stores (meta.location is derived from the request URL). */
  unsupported: string[];
}

const metaColumns = (a: string, resourceType: string): Record<string, Column> => ({
  id: { sql: `${a}.id`, type: 'uuid' },
  meta: { sql: 'true', type: 'boolean' },
  'meta.resourceType': { sql: `'${resourceType}'::text`, type: 'text' },
  'meta.created': { sql: `${a}.created_at`, type: 'timestamptz' },
  'meta.lastModified': { sql: `${a}.last_modified`, type: 'timestamptz' },
  'meta.version': { sql: `('W/"' || ${a}.version || '"')`, type: 'text' },
});

export const USERS_SQL: SqlTarget = {
  alias: 'u',
  resource: 'u.resource',
  columns: {
    ...metaColumns('u', 'User'),
    userName: { sql: 'u.user_name', type: 'text' },
    externalId: { sql: 'u.external_id', type: 'text' },
    displayName: { sql: 'u.display_name', type: 'text' },
    active: { sql: 'u.active', type: 'boolean' },
  },
  relations: {
    // RFC 7643 §4.1.2: groups are computed from memberships; type is "direct" (no nesting is resolved).
    groups: {
      from: 'scim_group_members m left join scim_groups g2 on g2.id = m.group_id where m.member_id = u.id',
      subs: {
        value: { sql: 'm.group_id', type: 'uuid' },
        display: { sql: 'g2.display_name', type: 'text' },
        type: { sql: `'direct'::text`, type: 'text' },
      },
    },
  },
  unsupported: ['meta.location', 'groups.$ref'],
};

export const GROUPS_SQL: SqlTarget = {
  alias: 'g',
  resource: 'g.resource',
  columns: {
    ...metaColumns('g', 'Group'),
    displayName: { sql: 'g.display_name', type: 'text' },
    externalId: { sql: 'g.external_id', type: 'text' },
  },
  relations: {
    // display as membersOfGroups in src/store/groups.ts derives it.
    members: {
      from: `scim_group_members m
        left join scim_users mu on m.member_type = 'User' and mu.id = m.member_id
        left join scim_groups mg on m.member_type = 'Group' and mg.id = m.member_id
        where m.group_id = g.id`,
      subs: {
        value: { sql: 'm.member_id', type: 'uuid' },
        display: { sql: 'coalesce(mu.display_name, mu.user_name, mg.display_name)', type: 'text' },
        type: { sql: 'm.member_type', type: 'text' },
      },
    },
  },
  unsupported: ['meta.location', 'members.$ref'],
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ORDER_SQL: Partial<Record<CompareOp, string>> = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' };
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const leafAttr = (p: AttrPath): AttributeDef => p.sub ?? p.attribute;

/** A value as SQL reads it: a typed column, or a jsonb value (key set: base -> key). */
type Operand = { kind: 'column'; sql: string; type: ColumnType } | { kind: 'jsonb'; base: string; key?: string };
type Scope = { kind: 'root' } | { kind: 'element'; element: string } | { kind: 'relation'; rel: Relation };

const jsonOf = (o: Extract<Operand, { kind: 'jsonb' }>) => (o.key ? `${o.base} -> ${literal(o.key)}` : o.base);
const textOf = (o: Operand) =>
  o.kind === 'column' ? (o.type === 'text' ? o.sql : `${o.sql}::text`) : o.key ? `${o.base} ->> ${literal(o.key)}` : `${o.base} #>> '{}'`;

function presentSql(o: Operand): string {
  if (o.kind === 'column') return o.type === 'text' ? `(${o.sql} is not null and ${o.sql} <> '')` : `${o.sql} is not null`;
  // RFC 7644 §3.4.2.2 "pr": a non-empty value; null, "", [] and {} are not.
  return `coalesce(${jsonOf(o)} not in ('null'::jsonb, '""'::jsonb, '[]'::jsonb, '{}'::jsonb), false)`;
}

/** The elements of a multi-valued attribute, as rows aliased e. */
const elementsOf = (json: string) => `jsonb_array_elements(coalesce(${json}, '[]'::jsonb)) e`;

class FilterSql {
  constructor(readonly t: SqlTarget, readonly params: unknown[]) {}

  param(value: unknown, cast: string): string {
    this.params.push(value);
    return `$${this.params.length}::${cast}`;
  }

  node(n: FilterNode, scope: Scope): string {
    switch (n.kind) {
      case 'and':
      case 'or':
        return `(${this.node(n.left, scope)} ${n.kind} ${this.node(n.right, scope)})`;
      case 'not':
        return `not coalesce(${this.node(n.filter, scope)}, false)`;
      case 'present':
        return this.present(n.path, scope);
      case 'valuePath':
        return this.valuePath(n.path, n.filter);
      case 'compare':
        if (n.op === 'ne') return `not coalesce(${this.node({ ...n, op: 'eq' }, scope)}, false)`;
        if (n.value === null) return `not (${this.present(n.path, scope)})`;
        return this.leaf(n.path, scope, (o) => this.compare(o, leafAttr(n.path), n.op, n.value));
    }
  }

  /** Where the attribute lives: a column, a membership subquery, the jsonb document. */
  leaf(path: AttrPath, scope: Scope, build: (o: Operand) => string): string {
    const label = formatPath(path);
    if (this.t.unsupported.includes(label)) throw badRequest('invalidFilter', `filtering on '${label}' is not supported`);
    if (scope.kind === 'element') return build({ kind: 'jsonb', base: scope.element, key: path.sub?.name });
    if (scope.kind === 'relation') return build({ kind: 'column', ...relationColumn(scope.rel, path) });
    const column = this.t.columns[label];
    if (column) return build({ kind: 'column', ...column });
    const rel = relationOf(this.t, path);
    if (rel) return `exists (select 1 from ${rel.from} and ${build({ kind: 'column', ...relationColumn(rel, path) })})`;
    if (path.attribute.multiValued) {
      // RFC 7644 §3.4.2.2: a multi-valued attribute matches when any value does.
      const elements = elementsOf(jsonPath(this.t, path));
      return `exists (select 1 from ${elements} where ${build({ kind: 'jsonb', base: 'e', key: path.sub?.name })})`;
    }
    if (path.sub) return build({ kind: 'jsonb', base: jsonPath(this.t, path), key: path.sub.name });
    return build({ kind: 'jsonb', base: containerOf(this.t, path), key: path.attribute.name });
  }

  present(path: AttrPath, scope: Scope): string {
    if (scope.kind === 'root' && !path.sub) {
      const rel = relationOf(this.t, path);
      if (rel) return `exists (select 1 from ${rel.from})`;
    }
    return this.leaf(path, scope, presentSql);
  }

  /** emails[type eq "work" and primary eq true]: one exists over the same element. */
  valuePath(path: AttrPath, filter: FilterNode): string {
    const rel = relationOf(this.t, path);
    if (rel) return `exists (select 1 from ${rel.from} and ${this.node(filter, { kind: 'relation', rel })})`;
    if (!path.attribute.multiValued) return this.node(filter, { kind: 'root' });
    const json = jsonPath(this.t, path);
    return `exists (select 1 from ${elementsOf(json)} where ${this.node(filter, { kind: 'element', element: 'e' })})`;
  }

  compare(o: Operand, attr: AttributeDef, op: CompareOp, value: FilterValue): string {
    switch (attr.type) {
      case 'boolean':
        return o.kind === 'column' ? `${o.sql} = ${this.param(value, 'boolean')}` : `${jsonOf(o)} = to_jsonb(${this.param(value, 'boolean')})`;
      case 'integer':
      case 'decimal': {
        const p = this.param(value, 'numeric');
        if (o.kind === 'column') return `${o.sql} ${ORDER_SQL[op]} ${p}`;
        // jsonb orders numbers numerically, but ranks every string above every number.
        return `(jsonb_typeof(${jsonOf(o)}) = 'number' and ${jsonOf(o)} ${ORDER_SQL[op]} to_jsonb(${p}))`;
      }
      case 'dateTime': {
        const normalized = typeof value === 'string' ? normalizeDateTime(value) : undefined;
        if (!normalized) throw badRequest('invalidFilter', `invalid dateTime ${JSON.stringify(value)} for '${attr.name}'`);
        const lhs = o.kind === 'column' ? o.sql : `(${textOf(o)})::timestamptz`;
        return `${lhs} ${ORDER_SQL[op]} ${this.param(normalized, 'timestamptz')}`;
      }
      default:
        return this.compareText(o, attr, op, String(value));
    }
  }

  compareText(o: Operand, attr: AttributeDef, op: CompareOp, value: string): string {
    if (o.kind === 'column' && o.type === 'uuid' && op === 'eq') {
      // A value that is no uuid matches nothing; casting it would be a SQL error (22P02).
      return UUID.test(value) ? `${o.sql} = ${this.param(value, 'uuid')}` : 'false';
    }
    const ci = !attr.caseExact;
    const lhs = ci ? `lower(${textOf(o)})` : textOf(o);
    const rhs = ci ? `lower(${this.param(value, 'text')})` : this.param(value, 'text');
    // co/sw/ew with strpos/starts_with/right: the value is never a like pattern, so "%" and "_" are literal.
    switch (op) {
      case 'co': return `strpos(${lhs}, ${rhs}) > 0`;
      case 'sw': return `starts_with(${lhs}, ${rhs})`;
      case 'ew': return `right(${lhs}, char_length(${rhs})) = ${rhs}`;
      case 'eq': return `${lhs} = ${rhs}`;
      // Code-point order, as the evaluator compares, whatever the database collation.
      default: return `${lhs} collate "C" ${ORDER_SQL[op]} ${rhs}`;
    }
  }
}

function relationOf(t: SqlTarget, path: AttrPath): Relation | undefined {
  return path.extension ? undefined : t.relations[path.attribute.name];
}

function relationColumn(rel: Relation, path: AttrPath): Column {
  const column = path.sub && rel.subs[path.sub.name];
  if (!column) throw badRequest('invalidFilter', `filtering on '${formatPath(path)}' is not supported`);
  return column;
}

/** The object holding the attribute: the document, or its extension object. */
const containerOf = (t: SqlTarget, path: AttrPath) => (path.extension ? `${t.resource} -> ${literal(path.schema)}` : t.resource);

/** The attribute's jsonb: u.resource -> 'emails', or under its extension URN. */
const jsonPath = (t: SqlTarget, path: AttrPath) => `${containerOf(t, path)} -> ${literal(path.attribute.name)}`;

/**
 * A boolean SQL expression for the filter, over target.alias; pushes its values onto params
 * and refers to them as $n. Throws 400 invalidFilter for what cannot be filtered.
 */
export function filterToSql(node: FilterNode, target: SqlTarget, params: unknown[]): string {
  return new FilterSql(target, params).node(node, { kind: 'root' });
}

/** A sort key for one jsonb value: text (lowered unless caseExact) or the jsonb itself. */
function sortKey(o: Extract<Operand, { kind: 'jsonb' }>, attr: AttributeDef): string {
  switch (attr.type) {
    case 'dateTime': return `(${textOf(o)})::timestamptz`;
    // jsonb orders numbers numerically and false before true.
    case 'boolean': case 'integer': case 'decimal': return jsonOf(o);
    default: return attr.caseExact ? textOf(o) : `lower(${textOf(o)})`;
  }
}

/**
 * The expression to "order by" for sortBy (RFC 7644 §3.4.2.3); the caller appends the
 * direction and "nulls last". A multi-valued attribute sorts by its primary value, or else
 * its first value; a complex attribute needs a sub-attribute (400 invalidValue, as for an unknown sortBy).
 */
export function sortExpression(path: AttrPath, target: SqlTarget): string {
  let p = path;
  if (!p.sub && p.attribute.type === 'complex') {
    const value = p.attribute.multiValued ? findAttr(p.attribute.subAttributes, 'value') : undefined;
    if (!value) throw badRequest('invalidValue', `cannot sort by complex attribute '${formatPath(p)}': name one of its sub-attributes`);
    p = { ...p, sub: value };
  }
  const label = formatPath(p);
  const attr = leafAttr(p);
  if (target.unsupported.includes(label)) throw badRequest('invalidValue', `sorting by '${label}' is not supported`);
  const column = target.columns[label];
  if (column) return column.type === 'text' && !attr.caseExact ? `lower(${column.sql})` : column.sql;
  const rel = relationOf(target, p);
  if (rel) {
    const c = relationColumn(rel, p);
    return `(select min(${c.type === 'text' && !attr.caseExact ? `lower(${c.sql})` : textOf({ kind: 'column', ...c })}) from ${rel.from})`;
  }
  const json = jsonPath(target, p);
  if (!p.attribute.multiValued) {
    const o = p.sub ? { base: json, key: p.sub.name } : { base: containerOf(target, p), key: p.attribute.name };
    return sortKey({ kind: 'jsonb', ...o }, attr);
  }
  const key = sortKey({ kind: 'jsonb', base: 'e', key: p.sub?.name }, attr);
  return `(select ${key} from jsonb_array_elements(coalesce(${json}, '[]'::jsonb)) with ordinality as s(e, i)
     order by (e -> 'primary') = 'true'::jsonb desc nulls last, i limit 1)`;
}
