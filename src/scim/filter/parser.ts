// Recursive-descent parser for the RFC 7644 §3.4.2.2 filter grammar:
//
//   FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//   valuePath = attrPath "[" valFilter "]"
//   valFilter = attrExp / logExp / *1"not" "(" valFilter ")"
//   attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//   logExp    = FILTER SP ("and" / "or") SP FILTER
//
// with the precedence the RFC gives ("not" binds tighter than "and", "and" than "or") and
// left associativity. Scanning is on demand rather than a separate token pass because an
// unquoted value (a Microsoft conformance quirk) is "everything up to whitespace, ')' or ']'".
import { badRequest, type ScimError } from '../errors.js';
import { type AttrPath, findAttr, formatPath, resolvePath } from '../paths.js';
import type { ResourceTypeDef } from '../schemas.js';
import { COMPARE_OPS, type CompareOp, type FilterNode } from './ast.js';
import { makeCompare, type ValueToken } from './compare.js';

/** Parentheses and value paths nest at most this deep: a filter is untrusted input. */
const MAX_DEPTH = 32;
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
/** Characters that end an attribute path, keyword or operator. */
const DELIMITER = /[\s()[\]"]/;

export class FilterParser {
  pos = 0;
  private depth = 0;

  constructor(readonly text: string, readonly rt: ResourceTypeDef) {}

  fail(detail: string): ScimError {
    return badRequest('invalidFilter', detail);
  }

  /** "')' at position 14" or "end of input at position 20", for error details. */
  describe(at = this.pos): string {
    if (at >= this.text.length) return `end of input at position ${at}`;
    const word = this.wordAt(at);
    return `'${word || this.text[at]}' at position ${at}`;
  }

  skipWs(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  private wordAt(at: number): string {
    let end = at;
    while (end < this.text.length && !DELIMITER.test(this.text[end]!)) end++;
    return this.text.slice(at, end);
  }

  /** Consumes and returns an attribute path, keyword or operator (possibly empty). */
  readWord(): string {
    const word = this.wordAt(this.pos);
    this.pos += word.length;
    return word;
  }

  expect(ch: string, opener: number): void {
    this.skipWs();
    if (this.peek() !== ch) {
      const open = ch === ')' ? '(' : '[';
      throw this.fail(`expected '${ch}' to close '${open}' at position ${opener}, found ${this.describe()}`);
    }
    this.pos++;
  }

  /** A whole filter: the text must be consumed completely. */
  parseFilter(): FilterNode {
    const node = this.parseOr();
    this.skipWs();
    if (this.pos < this.text.length) throw this.fail(`unexpected ${this.describe()}`);
    return node;
  }

  /** FILTER, or valFilter when parent (the attribute of a value path) is given. */
  parseOr(parent?: AttrPath): FilterNode {
    let left = this.parseAnd(parent);
    while (this.keyword('or')) left = { kind: 'or', left, right: this.operand('or', parent, (p) => this.parseAnd(p)) };
    return left;
  }

  private parseAnd(parent?: AttrPath): FilterNode {
    let left = this.parseUnary(parent);
    while (this.keyword('and')) left = { kind: 'and', left, right: this.operand('and', parent, (p) => this.parseUnary(p)) };
    return left;
  }

  /** Consumes the keyword if it comes next (keywords are case-insensitive, RFC 7644 §3.4.2.2). */
  private keyword(kw: 'and' | 'or'): boolean {
    const save = this.pos;
    this.skipWs();
    if (this.wordAt(this.pos).toLowerCase() === kw) {
      this.pos += kw.length;
      return true;
    }
    this.pos = save;
    return false;
  }

  private operand(kw: string, parent: AttrPath | undefined, parse: (p?: AttrPath) => FilterNode): FilterNode {
    const at = this.pos - kw.length;
    this.skipWs();
    const c = this.peek();
    if (c === undefined || c === ')' || c === ']') {
      throw this.fail(`'${kw}' at position ${at} is missing its right operand: found ${this.describe()}`);
    }
    return parse(parent);
  }

  private nest<T>(fn: () => T): T {
    if (++this.depth > MAX_DEPTH) throw this.fail(`filter nests deeper than ${MAX_DEPTH} levels at position ${this.pos}`);
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private parseUnary(parent?: AttrPath): FilterNode {
    this.skipWs();
    const start = this.pos;
    const c = this.peek();
    if (c === '(') {
      this.pos++;
      return this.nest(() => {
        const inner = this.parseOr(parent);
        this.expect(')', start);
        return inner;
      });
    }
    const word = this.wordAt(this.pos);
    if (!word) throw this.fail(`expected an attribute path, 'not' or '(', found ${this.describe()}`);
    const lower = word.toLowerCase();
    if (lower === 'and' || lower === 'or') {
      throw this.fail(`'${lower}' at position ${start} is missing its left operand`);
    }
    if (lower !== 'not') return this.parseAttrExp(parent);
    this.pos += word.length;
    this.skipWs();
    if (this.peek() !== '(') throw this.fail(`expected '(' after 'not' at position ${start}, found ${this.describe()}`);
    const open = this.pos++;
    return this.nest(() => {
      const filter = this.parseOr(parent);
      this.expect(')', open);
      return { kind: 'not', filter };
    });
  }

  /** attrPath, resolved against the resource type or, inside "[…]", against the parent. */
  resolveAttr(name: string, at: number, parent?: AttrPath): AttrPath {
    if (parent) {
      const sub = findAttr(parent.attribute.subAttributes, name);
      if (!sub) throw this.fail(`unknown sub-attribute '${name}' of '${formatPath(parent)}' at position ${at}`);
      return { ...parent, sub };
    }
    const path = resolvePath(this.rt, name);
    if (!path) throw this.fail(`unknown attribute '${name}' at position ${at}`);
    return path;
  }

  private parseAttrExp(parent?: AttrPath): FilterNode {
    const at = this.pos;
    const path = this.resolveAttr(this.readWord(), at, parent);
    if (this.peek() === '[') {
      const node = this.parseValuePath(path, at, parent);
      if (this.peek() !== '.' || node.kind !== 'valuePath') return node;
      return this.parseValuePathSub(node);
    }
    return this.parseOperator(path);
  }

  /**
   * `emails[type eq "work"].value eq "x"`, read as `emails[type eq "work" and value eq "x"]`.
   * Not in the RFC 7644 §3.4.2.2 grammar (valuePath takes no subAttr in a filter), but Entra
   * looks users up this way when a tenant matches on work email (its SCIM guide lists
   * `emails[type eq "work"].value` as the matching attribute); the pos is at '.'.
   */
  private parseValuePathSub(node: Extract<FilterNode, { kind: 'valuePath' }>): FilterNode {
    this.pos++;
    const at = this.pos;
    const name = this.readWord();
    if (!name) throw this.fail(`expected a sub-attribute of '${formatPath(node.path)}' after ']', found ${this.describe(at)}`);
    const sub = this.resolveAttr(name, at, node.path);
    const leaf = this.parseOperator(sub);
    return { kind: 'valuePath', path: node.path, filter: { kind: 'and', left: node.filter, right: leaf } };
  }

  /** The operator and value after an attribute path: `pr`, or compareOp and compValue. */
  private parseOperator(path: AttrPath): FilterNode {
    this.skipWs();
    const opAt = this.pos;
    const op = this.readWord().toLowerCase();
    if (op === 'pr') return { kind: 'present', path };
    if (!COMPARE_OPS.includes(op as CompareOp)) {
      throw this.fail(`expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '${formatPath(path)}', found ${this.describe(opAt)}`);
    }
    return makeCompare(path, op as CompareOp, this.parseValue(), opAt);
  }

  /** attrPath "[" valFilter "]"; the pos is at '['. RFC 7644 §3.4.2.2 does not nest them. */
  parseValuePath(path: AttrPath, at: number, parent?: AttrPath): FilterNode {
    const open = this.pos;
    if (parent) throw this.fail(`value filters cannot be nested: '[' at position ${open}`);
    if (path.attribute.type !== 'complex' || path.sub) {
      throw this.fail(`'${formatPath(path)}' at position ${at} is not a complex attribute and cannot take a value filter`);
    }
    this.pos++;
    return this.nest(() => {
      const filter = this.parseOr(path);
      this.expect(']', open);
      return { kind: 'valuePath', path, filter };
    });
  }

  /** compValue = false / null / true / number / string, or an unquoted word (lenient). */
  parseValue(): ValueToken {
    this.skipWs();
    const start = this.pos;
    if (this.peek() === '"') return this.parseString(start);
    let end = start;
    while (end < this.text.length && !/[\s)\]]/.test(this.text[end]!)) end++;
    const raw = this.text.slice(start, end);
    if (!raw) throw this.fail(`expected a comparison value, found ${this.describe()}`);
    this.pos = end;
    const lower = raw.toLowerCase();
    if (lower === 'true' || lower === 'false') return { value: lower === 'true', quoted: false, raw, start };
    if (lower === 'null') return { value: null, quoted: false, raw, start };
    if (NUMBER.test(raw)) return { value: Number(raw), quoted: false, raw, start };
    return { value: raw, quoted: false, raw, start };
  }

  private parseString(start: number): ValueToken {
    let i = start + 1;
    while (i < this.text.length && this.text[i] !== '"') i += this.text[i] === '\\' ? 2 : 1;
    if (i >= this.text.length) throw this.fail(`unterminated string starting at position ${start}`);
    const raw = this.text.slice(start, i + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw this.fail(`invalid string ${raw} at position ${start}: bad escape or control character`);
    }
    this.pos = i + 1;
    return { value: value as string, quoted: true, raw, start };
  }
}

/** Parses a filter (RFC 7644 §3.4.2.2) into an AST with canonical attribute paths. */
export function parseFilter(text: string, rt: ResourceTypeDef): FilterNode {
  return new FilterParser(text, rt).parseFilter();
}
