// The PATCH engine (RFC 7644 §3.5.2), pure: takes the stored resource and a PatchOp body,
// returns the new stored resource and, for Groups, the membership changes. All operations
// apply to a copy; any error throws and nothing is returned (§3.5.2: "atomic").
import { ScimError, badRequest } from './errors.js';
import { parsePatchPath } from './filter.js';
import { type Json, isObject, normalizeResource } from './resource.js';
import { type ResourceTypeDef, PATCH_OP_SCHEMA } from './schemas.js';
import { applyPathOp, applyPathless } from './patch/attribute.js';
import { deepEqual, getIgnoreCase } from './patch/json.js';
import { type MemberChanges, hasMemberChanges, toMemberChanges } from './patch/members.js';
import type { PatchOpName, PatchState } from './patch/types.js';

export type { MemberChanges } from './patch/members.js';
export type { MemberRef } from './resource.js';

export interface PatchResult {
  /** The new stored resource (normalised; the input is not mutated). */
  resource: Json;
  /** Only for Groups, and only when an operation touched members. */
  members?: MemberChanges;
  /** False when the PATCH was a no-op (still a 200/204). */
  changed: boolean;
}

interface Operation {
  op: PatchOpName;
  path?: string;
  value: unknown;
}

const OPS: readonly PatchOpName[] = ['add', 'replace', 'remove'];

function readOperation(raw: unknown, i: number): Operation {
  if (!isObject(raw)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object`);
  const op = getIgnoreCase(raw, 'op');
  // Entra sends "Add", "Replace", "Remove" (shared/conformance/microsoft/PostmanCollection.json,
  // "Patch user omalley new username"): op is case-insensitive.
  const name = typeof op === 'string' ? op.toLowerCase() : undefined;
  if (!name || !OPS.includes(name as PatchOpName)) {
    throw badRequest('invalidSyntax', `Operations[${i}]: unsupported op ${JSON.stringify(op)}; expected add, replace or remove`);
  }
  const path = getIgnoreCase(raw, 'path');
  if (path !== undefined && path !== null && typeof path !== 'string') {
    throw badRequest('invalidPath', `Operations[${i}]: path must be a string`);
  }
  return { op: name as PatchOpName, path: path?.trim() || undefined, value: getIgnoreCase(raw, 'value') };
}

/**
 * Reads the PatchOp message. A missing "schemas" is tolerated (lenient), a wrong one is not;
 * "Operations" may be spelt in any case.
 */
function readOperations(body: unknown, maxOperations: number): Operation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'The PATCH body must be a JSON object');
  const schemas = getIgnoreCase(body, 'schemas');
  const isPatchOp = (s: unknown) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase();
  if (schemas !== undefined && !(Array.isArray(schemas) && schemas.some(isPatchOp))) {
    throw badRequest('invalidSyntax', `schemas must be ["${PATCH_OP_SCHEMA}"]`);
  }
  const ops = getIgnoreCase(body, 'Operations');
  if (!Array.isArray(ops) || !ops.length) throw badRequest('invalidSyntax', 'Operations must be a non-empty array');
  // Bounded work per request (issue 10). 413 as RFC 7644 §3.7.4 answers a bulk request over
  // maxOperations; the detail states the limit so an operator can split the change.
  if (ops.length > maxOperations) {
    throw new ScimError(413, undefined, `the PATCH has ${ops.length} operations; at most ${maxOperations} are accepted per request (SCIM_MAX_PATCH_OPERATIONS)`);
  }
  return ops.map(readOperation);
}

function applyOperation(state: PatchState, { op, path, value }: Operation): void {
  if (value === undefined && op !== 'remove') throw badRequest('invalidValue', `${op} requires a value`);
  if (!path) {
    // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with … noTarget".
    if (op === 'remove') throw badRequest('noTarget', 'remove requires a path');
    return applyPathless(state, op, value);
  }
  applyPathOp(state, op, parsePatchPath(path, state.rt), value);
}

export interface PatchLimits {
  /** Most operations one PatchOp may carry (SCIM_MAX_PATCH_OPERATIONS); more is a 413. */
  maxOperations: number;
}

/** Default of SCIM_MAX_PATCH_OPERATIONS (src/config.ts). */
export const DEFAULT_MAX_PATCH_OPERATIONS = 1000;

/**
 * Applies a PatchOp body to a stored resource. Throws ScimError (400, or 413 over
 * limits.maxOperations) on any failure. Cost is linear in the number of operations.
 */
export function applyPatch(rt: ResourceTypeDef, resource: Json, body: unknown, limits: PatchLimits = { maxOperations: DEFAULT_MAX_PATCH_OPERATIONS }): PatchResult {
  const ops = readOperations(body, limits.maxOperations);
  const state: PatchState = { rt, doc: structuredClone(resource) };
  ops.forEach((op, i) => {
    try {
      applyOperation(state, op);
    } catch (err) {
      if (!(err instanceof ScimError)) throw err;
      const where = `Operations[${i}]`;
      throw err.detail.startsWith(where) ? err : new ScimError(err.status, err.scimType, `${where} (${op.op} ${op.path ?? '<no path>'}): ${err.detail}`);
    }
  });
  // Re-check types and required attributes on the result ("active": "False" ends as false).
  const next = normalizeResource(rt, state.doc, 'patch-result');
  const members = state.members && toMemberChanges(state.members);
  const result: PatchResult = { resource: next, changed: !deepEqual(resource, next) || hasMemberChanges(members) };
  if (members) result.members = members;
  return result;
}
