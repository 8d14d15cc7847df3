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
