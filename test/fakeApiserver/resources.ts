// The resource types the fake serves, with the per-type behaviour of their registry strategy
// (k8s.io/kubernetes/pkg/registry/*/strategy.go and, for custom resources,
// k8s.io/apiextensions-apiserver/pkg/registry/customresource/strategy.go).
import type { StatusCause } from './errors.js';

export type KObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    ownerReferences?: OwnerReference[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Validates a create (old undefined) or an update; returns field errors for a 422. */
export type Validator = (obj: KObject, old?: KObject) => StatusCause[];

/**
 * Schema admission of a custom resource (crd.ts): may prune and default `obj` in place, throws a
 * 400 for unknown fields under fieldValidation=Strict, returns Warning texts and field errors.
 */
export type Admit = (obj: KObject, old: KObject | undefined, fieldValidation: 'Strict' | 'Warn' | 'Ignore') => { warnings: string[]; causes: StatusCause[] };

export interface ResourceDef {
  group: string; // '' for core
  version: string;
  resource: string; // plural, as in the URL
  kind: string;
  namespaced: boolean;
  /** Custom resource: strategic merge patch is refused with 415 (CRD docs, "Advanced topics"). */
  custom: boolean;
  /** status subresource enabled: /status writes only status, main writes ignore status. */
  statusSubresource: boolean;
  /** metadata.generation maintained (custom resources and workload types; not Secrets, Leases). */
  generation: boolean;
  /** PUT without metadata.resourceVersion allowed (false for custom resources: strategy.AllowUnconditionalUpdate). */
  allowUnconditionalUpdate: boolean;
  /** DELETE answers with the deleted object (custom resources) rather than a Success Status. */
  returnDeletedObject: boolean;
  /** Extra fieldSelector fields besides metadata.name/namespace (real per-type field label conversions). */
  fieldSelectors: string[];
  shortNames?: string[];
  validate?: Validator;
  admit?: Admit;
  /** kubectl get columns (CRD additionalPrinterColumns), after Name. */
  printerColumns?: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
  /** Normalizes a body before storing (Secret stringData → data). */
  normalize?: (obj: KObject) => void;
}

export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

/** Secret: stringData is write-only and merged into data base64-encoded (core/v1 Secret API reference). */
function normalizeSecret(obj: KObject): void {
  const stringData = obj.stringData as Record<string, string> | undefined;
  if (stringData && typeof stringData === 'object') {
    const data = (obj.data as Record<string, string> | undefined) ?? {};
    for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    obj.data = data;
  }
  delete obj.stringData;
  if (!obj.type) obj.type = 'Opaque';
}

/**
 * metav1.MicroTime fields are stored and served as RFC 3339 with exactly six fractional digits
 * (apimachinery RFC3339Micro), whatever precision the client sent.
 */
function normalizeMicroTimes(obj: Record<string, unknown> | undefined, fields: string[]): void {
  if (!obj) return;
  for (const f of fields) {
    const v = obj[f];
    if (typeof v !== 'string') continue;
    const m = v.match(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/);
    if (!m) continue;
    const d = new Date(v);
    const iso = d.toISOString().slice(0, 19);
    obj[f] = `${iso}.${(m[2] ?? '').padEnd(6, '0').slice(0, 6)}Z`;
  }
}

const secretKey = /^[-._a-zA-Z0-9]+$/;

function validateSecret(obj: KObject, old?: KObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const data = (obj.data ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(data)) {
    if (!secretKey.test(k) || k.length > 253) {
      causes.push({ reason: 'FieldValueInvalid', field: `data[${k}]`, message: `Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'` });
    }
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
      causes.push({ reason: 'FieldValueInvalid', field: `data[${k}]`, message: 'Invalid value: illegal base64 data' });
    }
  }
  if (old) {
    if ((old.type ?? 'Opaque') !== (obj.type ?? 'Opaque')) {
      causes.push({ reason: 'FieldValueInvalid', field: 'type', message: `Invalid value: "${obj.type}": field is immutable` });
    }
    // https://kubernetes.io/docs/concepts/configuration/secret/#secret-immutable
    if (old.immutable === true && JSON.stringify(old.data ?? {}) !== JSON.stringify(obj.data ?? {})) {
      causes.push({ reason: 'FieldValueForbidden', field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' });
    }
  }
  return causes;
}

/** Lease spec checks of k8s.io/kubernetes/pkg/apis/coordination/validation. */
function validateLease(obj: KObject): StatusCause[] {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const causes: StatusCause[] = [];
  for (const f of ['leaseDurationSeconds', 'leaseTransitions'] as const) {
    const v = spec[f];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v))) {
      causes.push({ reason: 'FieldValueInvalid', field: `spec.${f}`, message: `Invalid value: ${JSON.stringify(v)}: must be an integer` });
    }
  }
  if (typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds <= 0) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.leaseDurationSeconds', message: `Invalid value: ${spec.leaseDurationSeconds}: must be greater than 0` });
  }
  if (typeof spec.leaseTransitions === 'number' && spec.leaseTransitions < 0) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.leaseTransitions', message: `Invalid value: ${spec.leaseTransitions}: must be greater than or equal to 0` });
  }
  for (const f of ['acquireTime', 'renewTime']) {
    const v = spec[f];
    // MicroTime: RFC 3339 with microseconds; client-node serializes Date with milliseconds, which parses.
    if (v !== undefined && v !== null && (typeof v !== 'string' || Number.isNaN(Date.parse(v)))) {
      causes.push({ reason: 'FieldValueInvalid', field: `spec.${f}`, message: `Invalid value: ${JSON.stringify(v)}: must be an RFC 3339 time` });
    }
  }
  return causes;
}

/**
 * events.k8s.io/v1 Event create checks (k8s.io/kubernetes/pkg/apis/core/validation/events.go,
 * ValidateEventCreate for the v1 API): eventTime, reportingController, reportingInstance,
 * action and reason are required; type is Normal or Warning; note at most 1 kB.
 */
function validateEvent(obj: KObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const required = (f: string, max?: number) => {
    const v = obj[f];
    if (v === undefined || v === null || v === '') causes.push({ reason: 'FieldValueRequired', field: f, message: 'Required value' });
    else if (max !== undefined && String(v).length > max) {
      causes.push({ reason: 'FieldValueInvalid', field: f, message: `Invalid value: "${v}": can have at most ${max} characters` });
    }
  };
  required('eventTime');
  required('reportingController');
  required('reportingInstance', 128);
  required('action', 128);
  required('reason', 128);
  if (obj.type !== 'Normal' && obj.type !== 'Warning') {
    causes.push({ reason: 'FieldValueNotSupported', field: 'type', message: `Unsupported value: "${obj.type ?? ''}": supported values: "Normal", "Warning"` });
  }
  if (typeof obj.note === 'string' && Buffer.byteLength(obj.note) > 1024) {
    causes.push({ reason: 'FieldValueTooLong', field: 'note', message: 'Too long: may not be more than 1024 bytes' });
  }
  return causes;
}

const common = { custom: false, statusSubresource: false, generation: false, allowUnconditionalUpdate: true, returnDeletedObject: false };

/**
 * ScimConfig without a schema, for when deploy/crds/ has no CRD (the fake then accepts any spec).
 * Normally scimconfigs are served from the CRD (crd.ts resourceFromCrd).
 */
export function scimConfigWithoutSchema(): ResourceDef {
  return {
      ...common,
      group: 'scimsync.io',
      version: 'v1alpha1',
      resource: 'scimconfigs',
      kind: 'ScimConfig',
      namespaced: true,
      custom: true,
      statusSubresource: true,
      generation: true,
      allowUnconditionalUpdate: false,
      returnDeletedObject: true,
      fieldSelectors: [],
      shortNames: ['scimcfg'],
  };
}

/** The built-in resource types the operator uses. */
export function builtinResources(): ResourceDef[] {
  return [
    { ...common, group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true, fieldSelectors: ['type'], normalize: normalizeSecret, validate: validateSecret },
    { ...common, group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true, fieldSelectors: [], validate: validateLease, normalize: (o) => normalizeMicroTimes(o.spec as Record<string, unknown>, ['acquireTime', 'renewTime']) },
    {
      ...common,
      group: 'events.k8s.io',
      version: 'v1',
      resource: 'events',
      kind: 'Event',
      namespaced: true,
      shortNames: ['ev'],
      fieldSelectors: ['regarding.kind', 'regarding.name', 'regarding.namespace', 'regarding.uid', 'reason', 'type', 'reportingController'],
      validate: validateEvent,
      normalize: (o) => normalizeMicroTimes(o, ['eventTime']),
    },
    { ...common, group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], fieldSelectors: ['status.phase'], statusSubresource: true },
  ];
}
