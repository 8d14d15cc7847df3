// The one error middleware: every failure becomes an RFC 7644 §3.12 error response.
// Protocol and store errors map to their status; anything unexpected is a 500 whose cause
// is logged with the request id and never sent.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ScimError } from '../scim/errors.js';
import { ConflictError, DatabaseUnavailableError, NotFoundError, VersionMismatchError } from '../store/errors.js';
import { sendScimJson } from './respond.js';

/**
 * Seconds a client is asked to wait when the database is unavailable (Retry-After, RFC 9110
 * §10.2.3). Short: a restart or failover takes seconds, and IdPs retry 5xx anyway (Entra
 * backs off on its own; Okta retries after Retry-After).
 */
export const UNAVAILABLE_RETRY_AFTER_S = 2;

export function toScimError(err: unknown): ScimError | undefined {
  if (err instanceof ScimError) return err;
  if (err instanceof DatabaseUnavailableError) return new ScimError(503, undefined, `the service is temporarily unavailable (its database cannot be reached); retry after ${UNAVAILABLE_RETRY_AFTER_S} seconds`);
  if (err instanceof NotFoundError) return new ScimError(404, undefined, `${err.resourceType} "${err.id}" not found`);
  if (err instanceof ConflictError) return new ScimError(409, 'uniqueness', err.message);
  if (err instanceof VersionMismatchError) return new ScimError(412, undefined, err.message);
  // body-parser errors carry a `type` and an HTTP status (express.json()).
  const e = err as { type?: string; status?: number; message?: string; limit?: number; expose?: boolean };
  if (e?.type === 'entity.too.large') return new ScimError(413, undefined, `request body exceeds the ${e.limit ?? ''} byte limit; see maxPayloadSize in /ServiceProviderConfig`.replace('the  byte', 'the byte'));
  if (e?.type === 'entity.parse.failed') return new ScimError(400, 'invalidSyntax', `request body is not valid JSON: ${e.message}`);
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new ScimError(415, undefined, e.message ?? 'unsupported encoding');
  if (e?.type === 'request.aborted') return new ScimError(400, 'invalidSyntax', 'request body was aborted by the client');
  // express's router: a path segment such as /Users/%E0%A4%A is not valid percent-encoding.
  if (err instanceof URIError && e.status === 400) return new ScimError(400, undefined, `the request path is not valid percent-encoding: ${e.message}`);
  // Any other client error body-parser raises (http-errors marks them expose), e.g. a
  // Content-Encoding: gzip body that does not inflate.
  if (e?.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new ScimError(e.status, undefined, `the request body could not be read: ${e.message ?? 'unknown error'}`);
  }
  return undefined;
}

export function sendScimError(res: Parameters<RequestHandler>[1], err: ScimError): void {
  if (err.status === 503) res.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S));
  sendScimJson(res as Parameters<typeof sendScimJson>[0], err.status, err.toJSON());
}

export const errorMiddleware: ErrorRequestHandler = (err, req, res, _next) => {
  const scim = toScimError(err);
  if (res.headersSent) {
    // The response is under way (a failure while streaming it): it can only be cut short.
    req.log.error({ err }, 'request failed after its response began');
    res.destroy();
    return;
  }
  if (scim) {
    if (scim.status === 503) req.log.warn({ err: (err as Error).message }, 'database unavailable: answered 503');
    else if (scim.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.debug({ status: scim.status, scimType: scim.scimType, detail: scim.detail }, 'request rejected');
    sendScimError(res, scim);
    return;
  }
  req.log.error({ err }, 'unexpected error');
  sendScimError(res, new ScimError(500, undefined, `internal error; quote request id ${req.id} to the operator`));
};

/** 404 for any path under the SCIM root that no route answers. */
export const notFoundRoute: RequestHandler = (req, res) => {
  sendScimError(res, new ScimError(404, undefined, `no SCIM endpoint ${req.method} ${req.path}`));
};

/** 404 for a path under /scim that names no organization ("/scim/v2", "/scim/v1/acme/Users"). */
export const noOrganizationRoute: RequestHandler = (req, res) => {
  const path = req.originalUrl.split('?')[0];
  sendScimError(res, new ScimError(404, undefined, `no SCIM endpoint ${req.method} ${path}: SCIM lives under /scim/v2/{organization}/`));
};
