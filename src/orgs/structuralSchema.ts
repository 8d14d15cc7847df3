// Turns the JSON Schema that zod 4 emits (draft 2020-12, `z.toJSONSchema(schema, { io: 'input' })`)
// into a Kubernetes *structural* OpenAPI v3 schema, the only kind apiextensions.k8s.io/v1 accepts:
// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
//  - every node has a non-empty `type`, except `x-kubernetes-int-or-string` nodes;
//  - no `type`, `default`, `nullable` or `additionalProperties` inside anyOf/oneOf/allOf/not
//    (only the two int-or-string forms), so unions are rewritten, not copied;
//  - `additionalProperties: false` is dropped: with `properties` it is forbidden, and the
//    apiserver prunes unknown fields (or rejects them under strict field validation) anyway;
//  - no `$ref`/`$defs`, no `const` (→ a one-value `enum`), `exclusiveMinimum` as OpenAPI 3.0's boolean.
export type Schema = { [key: string]: unknown };

/** A `x-kubernetes-validations` rule (CEL), as in the CRD API. */
export interface ValidationRule {
  rule: string;
  message: string;
}

const isNullType = (s: unknown) => (s as Schema)?.type === 'null';

/** The structural form of one zod JSON Schema node. Throws on what it cannot express. */
export function toStructural(node: Schema, path = ''): Schema {
  if ('$ref' in node || '$defs' in node) throw new Error(`${path || '(root)'}: $ref/$defs cannot appear in a structural schema`);
  const { $schema: _s, additionalProperties, anyOf, oneOf, const: constant, exclusiveMinimum, ...rest } = node;
  let out: Schema = { ...rest };
  if (Array.isArray(out.type) && (out.type as string[]).includes('null')) {
    // zod writes `T | null` of a plain type as type: [T, "null"]: OpenAPI 3.0's nullable.
    const types = (out.type as string[]).filter((t) => t !== 'null');
    out = { ...out, type: types.length === 1 ? types[0] : types, nullable: true };
  }
  if (constant !== undefined) out.enum = [constant];
  if (typeof exclusiveMinimum === 'number') Object.assign(out, { minimum: exclusiveMinimum, exclusiveMinimum: true });
  // zod's bounds for .int(), not ours.
  if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  if (anyOf) out = { ...out, ...fromAnyOf(anyOf as Schema[], path) };
  if (oneOf) out = { ...out, ...fromDiscriminatedUnion(oneOf as Schema[], path) };
  if (Array.isArray(out.type)) throw new Error(`${path}: a union of types ${JSON.stringify(out.type)} has no structural form`);
  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties as Record<string, Schema>).map(([k, v]) => [k, toStructural(v, `${path}.${k}`)]),
    );
  }
  if (out.items) out.items = toStructural(out.items as Schema, `${path}[]`);
  if (additionalProperties && typeof additionalProperties === 'object') out.additionalProperties = toStructural(additionalProperties as Schema, `${path}{}`);
  if (!out.type && !out['x-kubernetes-int-or-string']) throw new Error(`${path || '(root)'}: no type`);
  return out;
}

/** `T | null` → T + nullable; `string | integer` → x-kubernetes-int-or-string (as Deployment's maxSurge). */
function fromAnyOf(options: Schema[], path: string): Schema {
  const nonNull = options.filter((o) => !isNullType(o));
  const nullable = nonNull.length < options.length;
  if (nonNull.length === 1) return { ...toStructural(nonNull[0], path), ...(nullable ? { nullable: true } : {}) };
  const str = nonNull.find((o) => o.type === 'string');
  const int = nonNull.find((o) => o.type === 'integer');
  if (nonNull.length === 2 && str && int) {
    // Value validations outside the anyOf apply by kind: pattern only to strings, minimum only
    // to numbers (kube-openapi's validators "apply" per JSON kind), so both can sit at the top.
    const s = toStructural(str, path);
    const i = toStructural(int, path);
    return {
      'x-kubernetes-int-or-string': true,
      ...(s.pattern ? { pattern: s.pattern } : {}),
      ...(i.minimum !== undefined ? { minimum: i.minimum } : {}),
      ...(i.maximum !== undefined ? { maximum: i.maximum } : {}),
      ...(nullable ? { nullable: true } : {}),
    };
  }
  throw new Error(`${path}: anyOf ${JSON.stringify(nonNull.map((o) => o.type))} has no structural form`);
}

/**
 * A discriminated union of objects (zod's `oneOf`, each option with a `const` discriminator):
 * one object with the discriminator as an enum, every option's other fields optional, and a
 * CEL rule per option tying the discriminator to its fields (required ones present, other
 * options' fields absent). Defaults on option fields are dropped: the apiserver would apply
 * them whatever the discriminator says.
 */
function fromDiscriminatedUnion(options: Schema[], path: string): Schema {
  const discriminator = Object.keys((options[0].properties ?? {}) as object).find((k) =>
    options.every((o) => ((o.properties as Record<string, Schema>)?.[k]?.const ?? undefined) !== undefined),
  );
  if (!discriminator) throw new Error(`${path}: oneOf without a common const field has no structural form`);
  const properties: Record<string, Schema> = {};
  const values: unknown[] = [];
  const fieldsOf = new Map<unknown, { required: string[]; all: string[] }>();
  for (const o of options) {
    const props = o.properties as Record<string, Schema>;
    const value = props[discriminator].const;
    values.push(value);
    const all = Object.keys(props).filter((k) => k !== discriminator);
    const required = ((o.required ?? []) as string[]).filter((k) => k !== discriminator);
    fieldsOf.set(value, { required, all });
    for (const k of all) {
      if (properties[k]) throw new Error(`${path}: field ${k} appears in two options`);
      const { default: _dropped, ...field } = props[k];
      properties[k] = field;
    }
  }
  const allFields = Object.keys(properties);
  const rules: ValidationRule[] = values.map((value) => {
    const { required, all } = fieldsOf.get(value)!;
    const forbidden = allFields.filter((k) => !all.includes(k));
    const terms = [...required.map((k) => `has(self.${k})`), ...forbidden.map((k) => `!has(self.${k})`)];
    const says = [...required.map((k) => `requires ${k}`), ...forbidden.map((k) => `forbids ${k}`)].join(' and ');
    return {
      rule: `self.${discriminator} != ${JSON.stringify(value)} || (${terms.join(' && ') || 'true'})`,
      message: `${discriminator} ${JSON.stringify(value)} ${says}`,
    };
  });
  return {
    type: 'object',
    required: [discriminator],
    properties: { [discriminator]: { type: 'string', enum: values }, ...properties },
    'x-kubernetes-validations': rules,
  };
}
