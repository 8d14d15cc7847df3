// What kube-apiserver does to a custom resource body with the CRD's openAPIV3Schema, for the
// fake apiserver: unknown fields, pruning, defaulting, OpenAPI validation and CEL rules
// (x-kubernetes-validations, with oldSelf on update). Each semantic cites the page that defines it:
// CRD = https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
// Not modelled: validation ratcheting (unchanged invalid fields allowed on update, GA in 1.33),
// CEL cost limits, Kubernetes' CEL libraries (lists, regex, quantity, url …; @bufbuild/cel has the
// core language only), timestamps/durations as CEL types (date-time strings stay strings), the
// metadata checks of embedded resources, and x-kubernetes-preserve-unknown-fields inside lists.
import { celEnv, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';

/** One field error, shaped as metav1.StatusCause (what a 422's details.causes hold). */
export interface FieldError {
  field: string;
  reason: string;
  message: string;
}

export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  nullable?: boolean;
  default?: unknown;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string; reason?: string; fieldPath?: string }[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** A CRD version's schema, with its CEL rules compiled once. */
export interface CrdSchema {
  /** Paths of fields the schema does not know (`spec.roleMapping`), as strict field validation reports them. */
  unknownFields(obj: unknown): string[];
  /** Drops unknown fields in place, as the apiserver does without strict validation (CRD, "Field pruning"). */
  prune(obj: unknown): void;
  /** Drops nulls of non-nullable fields, then applies defaults, in place (CRD, "Defaulting"). */
  applyDefaults(obj: unknown): void;
  /** OpenAPI validation, then the CEL rules; `old` is the stored object on update. */
  validate(obj: unknown, old?: unknown): FieldError[];
}

/** The schema of `version` (the storage version when unset) of a CRD object. Throws on a rule that does not parse. */
export function makeCrdSchema(crd: object, version?: string): CrdSchema {
  const versions = ((crd as { spec: { versions: { name: string; storage?: boolean; schema: { openAPIV3Schema: Schema } }[] } }).spec.versions);
  const v = versions.find((x) => (version ? x.name === version : x.storage)) ?? versions[0];
  const root = v.schema.openAPIV3Schema;
  const programs = compileRules(root);
  return {
    unknownFields: (obj) => walkUnknown(obj as Json, root, '', true, false),
    prune: (obj) => void walkUnknown(obj as Json, root, '', true, true),
    applyDefaults: (obj) => applyDefaults(obj as Json, root, true),
    validate(obj, old) {
      const errors = validateValue(obj as Json, root, '', true);
      // apiextensions-apiserver registry/customresource/strategy.go: CEL rules are not run when
      // the object has a type error ("some validation rules were not checked …").
      if (errors.some((e) => e.reason === 'FieldValueTypeInvalid')) {
        errors.push({ field: '', reason: 'FieldValueInvalid', message: 'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation' });
        return errors;
      }
      return [...errors, ...evaluateRules(obj as Json, old as Json | undefined, root, '', programs)];
    },
  };
}

/**
 * What a create or update through the apiserver does with `fieldValidation=Strict` (kubectl's
 * default): unknown fields are errors (the apiserver answers those with 400 "strict decoding
 * error: unknown field …" rather than a 422; their reason here is `FieldValueUnknown` so a caller
 * can tell them apart), then defaults are applied to `obj` in place, then it is validated.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
 */
export function makeCrdValidator(crd: object, version?: string): (obj: unknown, old?: unknown) => FieldError[] {
  const schema = makeCrdSchema(crd, version);
  return (obj, old) => {
    const unknown = schema.unknownFields(obj).map((field) => ({ field, reason: 'FieldValueUnknown', message: `unknown field "${field}"` }));
    if (unknown.length) return unknown;
    schema.applyDefaults(obj);
    return schema.validate(obj, old);
  };
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

// The root's apiVersion, kind and metadata are the apiserver's own (ObjectMeta is pruned and
// validated by its Go type, whatever the schema says: CRD, "Specifying a structural schema").
const isRootMeta = (isRoot: boolean, key: string) => isRoot && (key === 'metadata' || key === 'apiVersion' || key === 'kind');

function walkUnknown(value: Json, s: Schema, path: string, isRoot: boolean, prune: boolean): string[] {
  const out: string[] = [];
  if (s['x-kubernetes-preserve-unknown-fields']) return out;
  if (Array.isArray(value) && s.items) value.forEach((item, i) => out.push(...walkUnknown(item, s.items!, `${path}[${i}]`, false, prune)));
  if (!isObj(value)) return out;
  for (const key of Object.keys(value)) {
    if (isRootMeta(isRoot, key)) continue;
    const child = s.properties?.[key] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    if (child) out.push(...walkUnknown(value[key], child, s.properties?.[key] ? join(path, key) : `${path}[${key}]`, false, prune));
    else if (s.additionalProperties !== true) {
      out.push(join(path, key));
      if (prune) delete value[key];
    }
  }
  return out;
}

function applyDefaults(value: Json, s: Schema, isRoot: boolean): void {
  if (Array.isArray(value) && s.items) for (const item of value) applyDefaults(item, s.items, false);
  if (!isObj(value)) return;
  for (const [key, child] of Object.entries(s.properties ?? {})) {
    if (isRootMeta(isRoot, key)) continue;
    // "null values for fields that either don't specify the nullable flag, or give it a false
    // value, will be pruned before defaulting happens" (CRD, "Defaulting and Nullable"); in code,
    // apiextensions-apiserver schema/defaulting PruneNonNullableNullsWithoutDefaults, then Default
    // replaces the remaining non-nullable nulls with their defaults.
    if (value[key] === null && !child.nullable) delete value[key];
    if (value[key] === undefined && child.default !== undefined) value[key] = clone(child.default as Json);
    if (value[key] !== undefined) applyDefaults(value[key], child, false);
  }
  if (typeof s.additionalProperties === 'object') for (const v of Object.values(value)) applyDefaults(v, s.additionalProperties, false);
}

const show = (v: Json) => (typeof v === 'string' ? JSON.stringify(v) : isObj(v) ? '"object"' : Array.isArray(v) ? '"array"' : String(v));
const jsonType = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const invalid = (field: string, v: Json, what: string): FieldError => ({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${show(v)}: ${field} in body ${what}` });

/** kube-openapi's validators, each applying to one JSON kind (strfmt, validate/*.go). */
function validateValue(value: Json, s: Schema, path: string, isRoot = false): FieldError[] {
  if (value === null) {
    if (s.nullable) return [];
    return [{ field: path, reason: 'FieldValueTypeInvalid', message: `Invalid value: "null": ${path} in body must be of type ${s.type ?? 'integer or string'}: "null"` }];
  }
  const errors: FieldError[] = [];
  const type = jsonType(value);
  const typeOk = s['x-kubernetes-int-or-string']
    ? type === 'string' || (type === 'number' && Number.isInteger(value))
    : !s.type || s.type === type || (s.type === 'integer' && type === 'number' && Number.isInteger(value));
  if (!typeOk) {
    const want = s['x-kubernetes-int-or-string'] ? 'integer or string' : s.type;
    return [{ field: path, reason: 'FieldValueTypeInvalid', message: `Invalid value: "${type}": ${path} in body must be of type ${want}: ${JSON.stringify(type === 'object' || type === 'array' ? type : value)}` }];
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push({ field: path, reason: 'FieldValueNotSupported', message: `Unsupported value: ${show(value)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  }
  if (typeof value === 'string') errors.push(...validateString(value, s, path));
  if (typeof value === 'number') errors.push(...validateNumber(value, s, path));
  if (Array.isArray(value)) errors.push(...validateArray(value, s, path));
  if (isObj(value)) {
    for (const key of s.required ?? []) if (value[key] === undefined) errors.push({ field: join(path, key), reason: 'FieldValueRequired', message: 'Required value' });
    for (const [key, v] of Object.entries(value)) {
      if (isRootMeta(isRoot, key)) continue;
      const child = s.properties?.[key];
      if (child) errors.push(...validateValue(v, child, join(path, key)));
      else if (typeof s.additionalProperties === 'object') errors.push(...validateValue(v, s.additionalProperties, `${path}[${key}]`));
    }
  }
  return errors;
}

function validateString(v: string, s: Schema, path: string): FieldError[] {
  const errors: FieldError[] = [];
  if (s.minLength !== undefined && [...v].length < s.minLength) errors.push(invalid(path, v, `should be at least ${s.minLength} chars long`));
  if (s.maxLength !== undefined && [...v].length > s.maxLength) errors.push({ field: path, reason: 'FieldValueTooLong', message: `Too long: may not be more than ${s.maxLength} bytes` });
  if (s.pattern !== undefined && !new RegExp(s.pattern).test(v)) errors.push(invalid(path, v, `should match '${s.pattern}'`));
  if (s.format && FORMATS[s.format] && !FORMATS[s.format](v)) errors.push(invalid(path, v, `must be of type ${s.format}: ${JSON.stringify(v)}`));
  return errors;
}

// The formats the apiserver checks (CRD, "Format"); others are accepted as any string.
const FORMATS: Record<string, (v: string) => boolean> = {
  // strfmt "uri": Go's url.ParseRequestURI (absolute URI or absolute path).
  uri: (v) => v.startsWith('/') || URL.canParse(v),
  'date-time': (v) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)),
  date: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v),
};

function validateNumber(v: number, s: Schema, path: string): FieldError[] {
  const errors: FieldError[] = [];
  if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) {
    errors.push(invalid(path, v, `should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`));
  }
  if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) {
    errors.push(invalid(path, v, `should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`));
  }
  return errors;
}

function validateArray(v: Json[], s: Schema, path: string): FieldError[] {
  const errors: FieldError[] = [];
  if (s.minItems !== undefined && v.length < s.minItems) errors.push(invalid(path, v, `should have at least ${s.minItems} items`));
  if (s.maxItems !== undefined && v.length > s.maxItems) errors.push({ field: path, reason: 'FieldValueTooMany', message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
  // x-kubernetes-list-type map/set: items unique by their keys / value (structurallisttype).
  const keyOf = listKey(s);
  if (keyOf) {
    const seen = new Set<string>();
    v.forEach((item, i) => {
      const k = keyOf(item);
      if (seen.has(k)) errors.push({ field: `${path}[${i}]`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${k}` });
      seen.add(k);
    });
  }
  if (s.items) v.forEach((item, i) => errors.push(...validateValue(item, s.items!, `${path}[${i}]`)));
  return errors;
}

/** The identity of a list item for map and set lists; none for atomic lists. */
function listKey(s: Schema): ((item: Json) => string) | undefined {
  if (s['x-kubernetes-list-type'] === 'set') return (item) => JSON.stringify(item);
  const keys = s['x-kubernetes-list-map-keys'];
  if (s['x-kubernetes-list-type'] === 'map' && keys) return (item) => JSON.stringify(keys.map((k) => (isObj(item) ? item[k] : undefined) ?? null));
  return undefined;
}

type Program = (bindings: Record<string, CelInput>) => unknown;
const env = celEnv();

function compileRules(s: Schema, out = new Map<string, Program>()): Map<string, Program> {
  for (const r of s['x-kubernetes-validations'] ?? []) if (!out.has(r.rule)) out.set(r.rule, plan(env, parse(r.rule)) as Program);
  for (const child of Object.values(s.properties ?? {})) compileRules(child, out);
  if (s.items) compileRules(s.items, out);
  if (typeof s.additionalProperties === 'object') compileRules(s.additionalProperties, out);
  return out;
}

/**
 * x-kubernetes-validations, bottom-up per node (CRD, "Validation rules"). A rule that mentions
 * oldSelf is a transition rule: it runs only on update and only where the value can be
 * correlated with the old object (object fields by name, map-list items by their keys; not
 * items of atomic or set lists) (CRD, "Transition rules").
 */
function evaluateRules(value: Json | undefined, old: Json | undefined, s: Schema, path: string, programs: Map<string, Program>, isRoot = true): FieldError[] {
  if (value === undefined || value === null) return [];
  const errors: FieldError[] = [];
  if (isObj(value)) {
    for (const [key, child] of Object.entries(s.properties ?? {})) {
      if (isRootMeta(isRoot, key)) continue;
      errors.push(...evaluateRules(value[key], isObj(old) ? old[key] : undefined, child, join(path, key), programs, false));
    }
    if (typeof s.additionalProperties === 'object') {
      for (const [key, v] of Object.entries(value)) if (!s.properties?.[key]) errors.push(...evaluateRules(v, isObj(old) ? old[key] : undefined, s.additionalProperties, `${path}[${key}]`, programs, false));
    }
  }
  if (Array.isArray(value) && s.items) {
    const keyOf = s['x-kubernetes-list-type'] === 'map' ? listKey(s) : undefined;
    const oldByKey = new Map(Array.isArray(old) && keyOf ? old.map((o) => [keyOf(o), o] as const) : []);
    value.forEach((item, i) => errors.push(...evaluateRules(item, keyOf ? oldByKey.get(keyOf(item)) : undefined, s.items!, `${path}[${i}]`, programs, false)));
  }
  for (const r of s['x-kubernetes-validations'] ?? []) {
    const transition = /\boldSelf\b/.test(r.rule);
    if (transition && old === undefined) continue;
    const bindings: Record<string, CelInput> = { self: toCel(value, s) };
    if (transition) bindings.oldSelf = toCel(old!, s);
    const result = programs.get(r.rule)!(bindings);
    if (result === true) continue;
    const field = r.fieldPath ? path + r.fieldPath : path;
    const why = isCelError(result) ? `${r.message ?? `failed rule: ${r.rule}`}: ${result.message}` : (r.message ?? `failed rule: ${r.rule}`);
    errors.push({ field, reason: r.reason ?? 'FieldValueInvalid', message: `Invalid value: "${s.type ?? jsonType(value)}": ${why}` });
  }
  return errors;
}

/** JSON → CEL by schema type: integer → int (BigInt), number → double, objects → map (CRD, "Type checking"). */
function toCel(v: Json, s: Schema | undefined): CelInput {
  if (v === null) return null;
  if (typeof v === 'number') return s?.type === 'number' || !Number.isInteger(v) ? v : BigInt(v);
  if (Array.isArray(v)) return v.map((item) => toCel(item, s?.items));
  if (isObj(v)) {
    const extra = typeof s?.additionalProperties === 'object' ? s.additionalProperties : undefined;
    return new Map(Object.entries(v).map(([k, x]) => [k, toCel(x, s?.properties?.[k] ?? extra)]));
  }
  return v;
}
