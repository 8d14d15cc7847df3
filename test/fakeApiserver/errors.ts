// metav1.Status bodies, shaped as kube-apiserver writes them
// (k8s.io/apimachinery/pkg/api/errors). Clients (client-node's ApiException, kubectl, client-go's
// errors.IsConflict …) branch on `code` and `reason`, so both must be the real ones.
// https://kubernetes.io/docs/reference/using-api/api-concepts/#http-status-codes (not all listed)

/** One field error of a 422, as metav1.StatusCause. */
export interface StatusCause {
  reason: string; // FieldValueInvalid, FieldValueRequired, FieldValueForbidden, FieldValueNotSupported …
  message: string;
  field: string; // JSON path without a leading dot, e.g. spec.organization
}

/** metav1.Status with status Failure. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** An error the router turns into an HTTP response with a Status body (and optional headers). */
export class ApiError extends Error {
  constructor(
    readonly status: Status,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message);
  }
  get code(): number {
    return this.status.code;
  }
}

function status(code: number, reason: string, message: string, details?: Status['details']): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

/** "group resource" as the apiserver prints it: `scimconfigs.scimsync.io`, plain `secrets` for core. */
export function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

export const errors = {
  notFound: (resource: string, group: string, name: string) =>
    new ApiError(status(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, { name, group, kind: resource })),
  namespaceNotFound: (ns: string) =>
    new ApiError(status(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' })),
  alreadyExists: (resource: string, group: string, name: string) =>
    new ApiError(status(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, { name, group, kind: resource })),
  // The exact text client-go and kubectl users know; the reason is what clients test.
  conflict: (resource: string, group: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    new ApiError(status(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${why}`, { name, group, kind: resource })),
  /** 422 with one cause per field error; message lists them like field.ErrorList.ToAggregate(). */
  invalid: (kind: string, group: string, name: string, causes: StatusCause[]) => {
    const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const list = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
    const gk = group ? `${kind}.${group}` : kind;
    return new ApiError(status(422, 'Invalid', `${gk} "${name}" is invalid: ${list}`, { name, group, kind, causes }));
  },
  /** 422 without field causes, as NewGenericServerResponse(422) writes for a failed JSON patch. */
  unprocessable: (message: string) => new ApiError(status(422, 'Invalid', message)),
  forbidden: (message: string) => new ApiError(status(403, 'Forbidden', message)),
  badRequest: (message: string) => new ApiError(status(400, 'BadRequest', message)),
  methodNotAllowed: (message = 'the server does not allow this method on the requested resource') =>
    new ApiError(status(405, 'MethodNotAllowed', message)),
  unsupportedMediaType: (contentType: string, accepted: string[]) =>
    new ApiError(
      status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`),
      {},
    ),
  notFoundPath: () => new ApiError(status(404, 'NotFound', 'the server could not find the requested resource')),
  /** 410 Expired: https://kubernetes.io/docs/reference/using-api/api-concepts/#410-gone-responses */
  expired: (message: string) => new ApiError(status(410, 'Expired', message)),
  internal: (message = 'Internal error occurred: injected fault') => new ApiError(status(500, 'InternalError', message)),
  serviceUnavailable: (message = 'the server is currently unable to handle the request') =>
    new ApiError(status(503, 'ServiceUnavailable', message)),
  tooManyRequests: (retryAfterSeconds: number) =>
    new ApiError(status(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds }), {
      'Retry-After': String(retryAfterSeconds),
    }),
  generic: (code: number, message: string) => {
    const reasons: Record<number, string> = { 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout', 429: 'TooManyRequests' };
    return new ApiError(status(code, reasons[code] ?? 'Unknown', message));
  },
};

/** Status for the ERROR event a watch sends before it ends (api-concepts "Efficient detection of changes"). */
export function watchErrorObject(err: ApiError): Status {
  return err.status;
}
