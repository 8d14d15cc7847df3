// Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3; cursors RFC 9865),
// from a GET query string or a POST /.search body, validated into one shape.
import { badRequest, ScimError } from './errors.js';
import { parseFilter, parseInstant, type FilterNode } from './filter.js';
import { resolvePath, type AttrPath } from './paths.js';
import type { ResourceTypeDef } from './schemas.js';

export interface ListParams {
  filter?: FilterNode;
  sortBy?: AttrPath;
  sortOrder: 'ascending' | 'descending';
  startIndex: number;
  count: number;
  /** undefined: index paging; null: first page of cursor paging; else the decoded cursor. */
  cursor?: Cursor | null;
  attributes?: string[];
  excludedAttributes?: string[];
}

export interface PagingLimits {
  defaultCount: number;
  maxResults: number;
}

type Raw = Record<string, unknown>;

export const MAX_FILTER_LENGTH = 8192;

function pick(raw: Raw, name: string): unknown {
  // Parameter names are case-insensitive in practice (Entra sends "Count" on some calls).
  const key = Object.keys(raw).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : raw[key];
}

/**
 * A parameter that must be one scalar: a query string names it at most once (express's simple
 * parser makes ?count=1&count=2 an array) and a .search body gives a string or number, never an
 * object ({"toString": …} made String() throw, a 500). Booleans are read as their text.
 */
export function scalar(raw: Raw, name: string): string | number | undefined {
  const v = pick(raw, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) throw badRequest('invalidValue', `${name} must be given once, as a single value`);
  throw badRequest('invalidValue', `${name} must be a string or a number, got ${typeof v === 'object' ? 'an object' : `a ${typeof v}`}`);
}

function integer(raw: Raw, name: string): number | undefined {
  const v = scalar(raw, name);
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isInteger(n)) throw badRequest('invalidValue', `${name} must be an integer, got "${String(v)}"`);
  // Beyond 2^53 an integer is not exact; the SQL offset is a bigint.
  if (!Number.isSafeInteger(n)) throw badRequest('invalidValue', `${name} ${String(v)} is out of range`);
  return n;
}

/** attributes / excludedAttributes: comma-separated in a query, an array in a search body. */
function nameList(raw: Raw, name: string): string[] | undefined {
  const v = pick(raw, name);
  if (v === undefined || v === null || v === '') return undefined;
  // A search body gives an array of strings, a query string one comma-separated string (a
  // repeated query parameter arrives as an array of strings too: read it as the same list).
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'string')) throw badRequest('invalidValue', `${name} must be a list of attribute names (strings)`);
  const items = (list as string[]).flatMap((x) => x.split(','));
  // The Microsoft collection sends "attributes=emails[type eq \"work\"]": a filter is not
  // part of the attributes grammar (RFC 7644 §3.4.2.5), so we keep the attribute and drop it.
  return items.map((s) => s.trim().replace(/\[.*\]/, '')).filter(Boolean);
}

/**
 * A cursor (RFC 9865): the paging key of the last resource sent, and the totalResults the
 * traversal's first page counted. Later pages answer that total instead of counting again: a
 * count(*) per page made walking 1,000,000 users a quadratic 10,000 × 240 ms (bench scenario
 * 9). It is the total as of the first page; RFC 9865 §2 asks for an accurate value with a
 * SHOULD and lets a provider omit it altogether, and an index page still counts every time.
 */
export interface Cursor {
  createdAt: string;
  id: string;
  /** Absent in cursors issued before it was carried: such pages count. */
  total?: number;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.createdAt}|${c.id}${c.total === undefined ? '' : `|${c.total}`}`, 'utf8').toString('base64url');
}

function decodeCursor(text: string): Cursor {
  const [createdAt, id, total, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  // Checked as strictly as Postgres will read them (a valid instant, a real uuid): a cursor
  // is client input, and a cast failing in SQL would be a 500.
  const ok = createdAt && id && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?$/.test(createdAt)
    && parseInstant(createdAt) !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
    && (total === undefined || /^\d{1,15}$/.test(total)) && rest.length === 0;
  if (!ok) throw new ScimError(400, 'invalidCursor', `cursor "${text}" is not one this server issued`);
  return total === undefined ? { createdAt, id } : { createdAt, id, total: Number(total) };
}

/** The body of a POST …/.search: a SearchRequest object (RFC 7644 §3.4.3); none means no parameters. */
export function searchRequest(body: unknown): Raw {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('invalidSyntax', `the body of a .search must be a SearchRequest JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : `a ${typeof body}`}`);
  }
  return body as Raw;
}

export function parseListParams(raw: Raw, rt: ResourceTypeDef, limits: PagingLimits): ListParams {
  const params: ListParams = { sortOrder: 'ascending', startIndex: 1, count: limits.defaultCount };
  const filter = pick(raw, 'filter');
  if (filter !== undefined && filter !== null && filter !== '') {
    if (typeof filter !== 'string') throw badRequest('invalidFilter', Array.isArray(filter) ? 'filter must be given once' : 'filter must be a string');
    // The grammar puts no bound on and/or chains; a bound keeps one request's SQL small.
    if (filter.length > MAX_FILTER_LENGTH) throw badRequest('invalidFilter', `filter is ${filter.length} characters long; at most ${MAX_FILTER_LENGTH} are accepted`);
    params.filter = parseFilter(filter, rt);
  }
  const sortBy = scalar(raw, 'sortBy');
  if (sortBy !== undefined && sortBy !== '') {
    const path = resolvePath(rt, String(sortBy));
    if (!path) throw badRequest('invalidValue', `sortBy names an unknown attribute "${String(sortBy)}"`);
    params.sortBy = path;
  }
  const order = scalar(raw, 'sortOrder');
  if (order !== undefined && order !== '') {
    const o = String(order).toLowerCase();
    if (o !== 'ascending' && o !== 'descending') throw badRequest('invalidValue', `sortOrder must be "ascending" or "descending", got "${String(order)}"`);
    params.sortOrder = o;
  }
  // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1, a negative count as 0.
  params.startIndex = Math.max(1, integer(raw, 'startIndex') ?? 1);
  params.count = Math.min(limits.maxResults, Math.max(0, integer(raw, 'count') ?? limits.defaultCount));
  const cursor = scalar(raw, 'cursor');
  if (cursor !== undefined) {
    if (pick(raw, 'startIndex') !== undefined) throw badRequest('invalidValue', 'use either startIndex or cursor paging, not both (RFC 9865)');
    if (params.sortBy) throw badRequest('invalidValue', 'cursor paging returns resources in creation order; sortBy is not supported with cursor');
    params.cursor = cursor === '' ? null : decodeCursor(String(cursor));
  }
  params.attributes = nameList(raw, 'attributes');
  params.excludedAttributes = nameList(raw, 'excludedAttributes');
  return params;
}
