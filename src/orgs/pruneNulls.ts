// YAML's empty value is null (`table:` with nothing after it). The Kubernetes API server drops a
// null in a field that is not nullable before defaulting, so the field takes its default or is
// absent ("Defaulting and Nullable",
// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#defaulting-and-nullable).
// Local files get the same treatment, so that a document is accepted in both places or in neither.
import type { z } from 'zod';

/** The parts of a zod v4 schema's internal `def` that the schema walkers here read. */
export interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}

/** `schema`'s zod v4 internal definition (untyped in zod's public API). */
export const defOf = (s: z.ZodType) => (s as unknown as { def: Def }).def;

/** The object shapes `schema` may take (wrappers unwrapped, union options listed). */
function shapes(schema: z.ZodType): Record<string, z.ZodType>[] {
  const def = defOf(schema);
  const inner = def.innerType ?? def.in;
  if (inner) return shapes(inner);
  if (def.type === 'union') return def.options!.flatMap(shapes);
  return def.type === 'object' ? [def.shape!] : [];
}

function elementOf(schema: z.ZodType): z.ZodType | undefined {
  const def = defOf(schema);
  const inner = def.innerType ?? def.in;
  if (inner) return elementOf(inner);
  return def.type === 'array' ? def.element : undefined;
}

/** Deletes, in place, every object field whose value is null and whose schema refuses null. */
export function pruneNonNullableNulls(value: unknown, schema: z.ZodType): void {
  if (Array.isArray(value)) {
    const element = elementOf(schema);
    if (element) for (const item of value) pruneNonNullableNulls(item, element);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const record = value as Record<string, unknown>;
  const options = shapes(schema);
  for (const key of Object.keys(record)) {
    const field = options.find((shape) => key in shape)?.[key];
    if (!field) continue;
    if (record[key] === null) {
      if (!field.safeParse(null).success) delete record[key];
    } else pruneNonNullableNulls(record[key], field);
  }
}
