// SCIM protocol errors (RFC 7644 §3.12). Thrown by protocol code, mapped to a response by
// the single error middleware in src/http/errors.ts.

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** scimType values defined by RFC 7644 §3.12, Table 9 (plus RFC 9865's cursor errors). */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'
  | 'invalidCursor'
  | 'expiredCursor';

export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType | undefined;
  readonly detail: string;

  constructor(status: number, scimType: ScimType | undefined, detail: string) {
    super(detail);
    this.name = 'ScimError';
    this.status = status;
    this.scimType = scimType;
    this.detail = detail;
  }

  toJSON(): Record<string, unknown> {
    const body: Record<string, unknown> = { schemas: [ERROR_SCHEMA], status: String(this.status), detail: this.detail };
    if (this.scimType) body.scimType = this.scimType;
    return body;
  }
}

export const badRequest = (scimType: ScimType | undefined, detail: string) => new ScimError(400, scimType, detail);
export const notFound = (detail: string) => new ScimError(404, undefined, detail);
export const conflict = (detail: string) => new ScimError(409, 'uniqueness', detail);
export const preconditionFailed = (detail: string) => new ScimError(412, undefined, detail);
