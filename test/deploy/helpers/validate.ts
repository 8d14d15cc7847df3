// Validates rendered objects against their schemas: Kubernetes' own kinds with
// kubernetes-models@4.5.1 (the OpenAPI schemas of Kubernetes 1.27), custom resources of other
// projects (ServiceMonitor, PodMonitor, PrometheusRule, CloudNativePG Cluster) against the
// openAPIV3Schema their CRDs publish, vendored in test/deploy/schemas/ (source in $comment).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import type { K8sObject } from './helm.js';

const require = createRequire(import.meta.url);
const SCHEMAS = fileURLToPath(new URL('../schemas', import.meta.url));

type Schema = Record<string, unknown>;

/**
 * A structural schema's objects keep only declared fields: the API server prunes unknown ones
 * silently (CRD docs, "Field pruning"). For a chart that means a misspelt field is lost, so here
 * an object with `properties` and neither `additionalProperties` nor
 * `x-kubernetes-preserve-unknown-fields` is closed, and an unknown field is an error.
 */
function closeObjects(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(closeObjects);
  if (!s || typeof s !== 'object') return s;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([pk, pv]) => [pk, closeObjects(pv)])) : closeObjects(v);
  }
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

/**
 * CRD patterns are Go RE2; the one RE2-only construct they use is a (?i) flag group right after
 * "^" (e.g. "^(?i)(abort|warn)?$"), which applies to the rest of the pattern: here, all of it.
 */
function re2(pattern: string, flags: string): RegExp {
  return pattern.includes('(?i)') ? new RegExp(pattern.replaceAll('(?i)', ''), `${flags}i`) : new RegExp(pattern, flags);
}

// Formats (int32, int64, date-time…) are advisory in Kubernetes' structural schemas.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: re2 as never } });
const crdValidators = new Map<string, { validate: ValidateFunction; source: string }>();
for (const file of readdirSync(SCHEMAS).filter((f) => f.endsWith('.json'))) {
  const schema = JSON.parse(readFileSync(path.join(SCHEMAS, file), 'utf8')) as Schema;
  const [gvk] = schema['x-kubernetes-group-version-kind'] as { group: string; version: string; kind: string }[];
  const { $comment, ...rest } = schema;
  crdValidators.set(`${gvk!.group}/${gvk!.version}/${gvk!.kind}`, { validate: ajv.compile(closeObjects(rest) as Schema), source: String($comment) });
}

/** Kinds whose schema is vendored here (their group/version/kind). */
export const vendoredKinds = () => [...crdValidators.keys()];

/** Throws with every problem found; returns which schema was used. */
export function validateObject(obj: K8sObject): string {
  const crd = crdValidators.get(`${obj.apiVersion}/${obj.kind}`);
  if (crd) {
    // ajv's validate is a type guard (obj is unknown's subtype), so the false branch sees never.
    if (!crd.validate(obj)) throw new Error(`${(obj as K8sObject).kind} ${(obj as K8sObject).metadata.name}: ${ajv.errorsText(crd.validate.errors, { separator: '\n  ' })}`);
    return 'vendored CRD schema';
  }
  // kubernetes-models: one module per group/version ("v1" for the core group).
  let mod: Record<string, unknown> | undefined;
  try {
    mod = require(`kubernetes-models/${obj.apiVersion}`) as Record<string, unknown>;
  } catch {
    mod = undefined;
  }
  const Model = mod?.[obj.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (!Model) throw new Error(`${obj.apiVersion} ${obj.kind} ${obj.metadata.name}: no schema to validate it against`);
  new Model(obj).validate();
  return 'kubernetes-models';
}
