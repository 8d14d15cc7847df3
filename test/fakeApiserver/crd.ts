// Serving a custom resource from its CustomResourceDefinition: names, scope and subresources
// from the CRD object, and the write path of
// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
// — unknown fields ("Field pruning"; with fieldValidation=Strict a 400, with Warn a Warning
// header, then pruned: https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation),
// "Defaulting", "Validation" (openAPIV3Schema) and "Validation rules" (CEL, oldSelf on update),
// all field errors of one write reported together in one 422 Invalid.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { errors } from './errors.js';
import type { Admit, ResourceDef } from './resources.js';
import { makeCrdSchema } from './validateCrd.js';

/** deploy/crds/scimconfigs.scimsync.io.yaml of this repository. */
export const SCIMCONFIG_CRD_PATH = fileURLToPath(new URL('../../deploy/crds/scimconfigs.scimsync.io.yaml', import.meta.url));

/** The CRD object in a YAML file, or undefined when the file does not exist. */
export function loadCrd(file = SCIMCONFIG_CRD_PATH): object | undefined {
  if (!existsSync(file)) return undefined;
  return parseYaml(readFileSync(file, 'utf8')) as object;
}

interface CrdShape {
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { plural: string; kind: string; shortNames?: string[] };
    versions: {
      name: string;
      served?: boolean;
      storage?: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
    }[];
  };
}

/** Field validation directive of a write (query parameter fieldValidation). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** A resource type served from a CRD (its storage version). */
export function resourceFromCrd(crd: object): ResourceDef {
  const c = crd as CrdShape;
  const v = c.spec.versions.find((x) => x.storage) ?? c.spec.versions[0];
  const schema = makeCrdSchema(crd, v.name);
  const admit: Admit = (obj, old, fieldValidation) => {
    const warnings: string[] = [];
    const unknown = schema.unknownFields(obj);
    if (unknown.length) {
      // The apiserver's strict decoder: "strict decoding error: unknown field "spec.x", unknown field …"
      if (fieldValidation === 'Strict') throw errors.badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
      if (fieldValidation !== 'Ignore') warnings.push(...unknown.map((f) => `unknown field "${f}"`));
      schema.prune(obj);
    }
    schema.applyDefaults(obj);
    return { warnings, causes: schema.validate(obj, old) };
  };
  return {
    group: c.spec.group,
    version: v.name,
    resource: c.spec.names.plural,
    kind: c.spec.names.kind,
    namespaced: c.spec.scope === 'Namespaced',
    custom: true,
    statusSubresource: Boolean(v.subresources?.status),
    generation: true,
    allowUnconditionalUpdate: false,
    returnDeletedObject: true,
    fieldSelectors: [],
    shortNames: c.spec.names.shortNames,
    // Without additionalPrinterColumns kubectl shows Name and Age (CRD, "Additional printer columns").
    printerColumns: v.additionalPrinterColumns,
    admit,
  };
}
