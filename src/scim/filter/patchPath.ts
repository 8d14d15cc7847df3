// PATCH operation paths (RFC 7644 §3.5.2):  PATH = attrPath / valuePath [subAttr]
// e.g. members, name.familyName, members[value eq "2819c223"], emails[type eq "work"].value,
// urn:…:enterprise:2.0:User:manager.value, and the bare extension URN for the whole object.
import { badRequest } from '../errors.js';
import { extensionByUrn, findAttr, formatPath, resolvePath } from '../paths.js';
import type { ResourceTypeDef } from '../schemas.js';
import type { PatchPath } from './ast.js';
import { FilterParser } from './parser.js';

const invalidPath = (detail: string) => badRequest('invalidPath', detail);

/**
 * Parses a PATCH path. An unknown or malformed path is 400 invalidPath; a malformed filter
 * inside "[…]" is 400 invalidFilter, as RFC 7644 §3.5.2 distinguishes them.
 */
export function parsePatchPath(text: string, rt: ResourceTypeDef): PatchPath {
  const raw = text.trim();
  if (!raw) throw invalidPath('the PATCH path is empty');
  const ext = extensionByUrn(rt, raw);
  if (ext) return { extensionUrn: ext.schema.id };

  const open = raw.indexOf('[');
  if (open < 0) {
    const path = resolvePath(rt, raw);
    if (!path) throw invalidPath(`unknown attribute path '${raw}'`);
    return { path };
  }
  const head = raw.slice(0, open);
  const path = resolvePath(rt, head);
  if (!path) throw invalidPath(`unknown attribute '${head}' in path '${raw}'`);
  if (path.attribute.type !== 'complex' || path.sub) {
    throw invalidPath(`'${formatPath(path)}' is not a complex attribute and cannot take a value filter in '${raw}'`);
  }

  const parser = new FilterParser(raw, rt);
  parser.pos = open;
  const node = parser.parseValuePath(path, 0);
  if (node.kind !== 'valuePath') throw invalidPath(`invalid value path '${raw}'`);
  const rest = raw.slice(parser.pos);
  if (!rest) return { path, filter: node.filter };
  const sub = rest.startsWith('.') ? findAttr(path.attribute.subAttributes, rest.slice(1)) : undefined;
  if (!sub) {
    throw invalidPath(`unexpected '${rest}' at position ${parser.pos} in '${raw}': expected nothing or '.' and a sub-attribute of '${formatPath(path)}'`);
  }
  return { path, filter: node.filter, subAttr: sub };
}
