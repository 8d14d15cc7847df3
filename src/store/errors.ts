// Typed errors at the store boundary; src/http/errors.ts maps them to SCIM responses.
export class NotFoundError extends Error {
  constructor(readonly resourceType: string, readonly id: string) {
    super(`${resourceType} ${id} not found`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'ConflictError';
  }
}

/** If-Match named a version that is not the current one (RFC 7644 §3.14 → 412). */
export class VersionMismatchError extends Error {
  constructor(readonly current: string) {
    super(`resource version is ${current}; the If-Match precondition does not hold`);
    this.name = 'VersionMismatchError';
  }
}

/**
 * The database cannot be reached or is going away (restart, failover, network): the request
 * may succeed if repeated later. Raised by every pool and client of src/store (pool.ts
 * classifies at the boundary), answered 503 with Retry-After (RFC 9110 §15.6.4) by the error
 * middleware; the reconciler backs off and resumes. Not raised for errors in the statement itself.
 */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the database is unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

// SQLSTATE class 08 "connection exception"; 57P01 admin_shutdown (fast/smart shutdown, a
// failover's old primary), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up,
// recovery); 53300 too_many_connections. PostgreSQL Appendix A, "Error Codes".
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
// Socket errors of node:net (the server is down or unreachable) and getaddrinfo's temporary failure.
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// pg and pg-pool raise these without a code (pg 8: lib/client.js, pg-pool/index.js).
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

/** True when `err` says the database is unreachable rather than that the statement failed. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const code = 'code' in err ? String((err as { code: unknown }).code) : '';
  if (code.startsWith('08') && code.length === 5) return true;
  if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_NODE_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m));
}

/** `err` as a DatabaseUnavailableError when it is one in disguise, else `err` itself. */
export function classifyDatabaseError(err: unknown): unknown {
  return !(err instanceof DatabaseUnavailableError) && isDatabaseUnavailable(err) ? new DatabaseUnavailableError(err) : err;
}
