// The SCIM filter language (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsed once into an
// AST with canonical attribute paths, then translated to SQL (src/store/filterSql.ts) or
// evaluated in memory (the PATCH engine's value filters).
export type { CompareOp, FilterNode, FilterValue, PatchPath } from './filter/ast.js';
export { matchesAtMostOne } from './filter/ast.js';
export { parseFilter } from './filter/parser.js';
export { parsePatchPath } from './filter/patchPath.js';
export { evaluateFilter, matchesValueFilter } from './filter/evaluate.js';
export { compareInstants, normalizeDateTime, parseInstant, type Instant } from './filter/dateTime.js';
