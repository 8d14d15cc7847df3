// The house rules of STYLE.md that a reader can check mechanically, on every file of src/:
// the import graph has no cycles (type-only imports count: a cycle of types is still two
// modules that must be read together), and each outside library with an edge of its own is
// imported from its one folder only. Imports are read with the TypeScript compiler's own
// pre-processor (ts.preProcessFile), which sees static, type-only, re-export and dynamic
// `import()` specifiers and ignores strings and comments.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Specifiers a file imports, as written. */
export function importsOf(code: string): string[] {
  const info = ts.preProcessFile(code, true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** A relative specifier resolved to the .ts file it names (NodeNext: `./x.js` is `./x.ts`). */
function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const p = path.resolve(path.dirname(from), spec);
  return p.replace(/\.js$/, '.ts');
}

/** The package a bare specifier names: `pg/lib/x` → `pg`, `@scope/pkg/x` → `@scope/pkg`. */
const packageOf = (spec: string): string => {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
};

const rel = (f: string) => path.relative(root, f);

interface Rule {
  /** Package (or node: builtin) name. */
  module: string;
  /** Folder of src/ allowed to import it; undefined: none of `forbiddenIn` may. */
  onlyIn?: string;
  /** Folder of src/ that must not import it. */
  forbiddenIn?: string;
}

// STYLE.md "Shape of src/" and the product brief's house style.
const RULES: Rule[] = [
  { module: 'pg', onlyIn: 'store' },
  { module: 'express', onlyIn: 'http' },
  { module: '@kubernetes/client-node', onlyIn: 'k8s' },
  // src/scim is the protocol, pure: no database, no web framework, no server.
  { module: 'pg', forbiddenIn: 'scim' },
  { module: 'express', forbiddenIn: 'scim' },
  { module: 'node:http', forbiddenIn: 'scim' },
  { module: 'http', forbiddenIn: 'scim' },
];

/** Rule violations of one file (path relative to src/), as sentences naming the file. */
export function violations(relPath: string, specs: string[]): string[] {
  const folder = relPath.split(path.sep)[0]!;
  const out: string[] = [];
  for (const spec of specs) {
    if (spec.startsWith('.')) continue;
    const pkg = spec.startsWith('node:') ? spec : packageOf(spec);
    for (const r of RULES) {
      if (pkg !== r.module) continue;
      if (r.onlyIn !== undefined && folder !== r.onlyIn) out.push(`src/${relPath} imports ${spec}; only src/${r.onlyIn}/ may`);
      if (r.forbiddenIn !== undefined && folder === r.forbiddenIn) out.push(`src/${relPath} imports ${spec}; src/${r.forbiddenIn}/ must not`);
    }
  }
  return out;
}

/** Every cycle's path (first file repeated at the end), found by depth-first search. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

/** What SQL text looks like at the start of a string: a statement's first words. */
const SQL_START = /^\s*(select\s|insert\s+into\s|update\s+\w+\s+set\s|delete\s+from\s|with\s+(recursive\s+)?\w+(\s*\([^)]*\))?\s+as\s*\()/i;

/**
 * SQL in a file: string and template literals that start like a statement (for a template
 * with substitutions, its text up to the first one), and `.query(` calls — read from the
 * syntax tree, so comments and identifiers never count.
 */
export function sqlOf(code: string): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    const text = ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) ? node.text : ts.isTemplateExpression(node) ? node.head.text : undefined;
    if (text !== undefined && SQL_START.test(text)) out.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'query') out.push('.query(');
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile('x.ts', code, ts.ScriptTarget.Latest, true));
  return out;
}

const files = sourceFiles(src);
const imports = new Map(files.map((f) => [f, importsOf(readFileSync(f, 'utf8'))]));

describe('import rules of src/', () => {
  it('reads the imports of every file (static, type-only, re-export, dynamic)', () => {
    expect(importsOf(`import a from 'a'; import type { B } from './b.js'; export * from './c.js'; const d = await import('d'); // import 'e'\nconst s = "import 'f'";`))
      .toEqual(['a', './b.js', './c.js', 'd']);
    expect(imports.get(path.join(src, 'store', 'pool.ts'))).toContain('pg');
  });

  it('src/store is the only importer of pg, src/http of express, src/k8s of @kubernetes/client-node; src/scim imports none of pg, express, node:http', () => {
    const found = files.flatMap((f) => violations(path.relative(src, f), imports.get(f)!));
    expect(found).toEqual([]);
  });

  it('names the offending file', () => {
    expect(violations(path.join('reconciler', 'listener.ts'), ['pg'])).toEqual(['src/reconciler/listener.ts imports pg; only src/store/ may']);
    expect(violations(path.join('scim', 'x.ts'), ['node:http', 'express'])).toEqual([
      'src/scim/x.ts imports node:http; src/scim/ must not',
      'src/scim/x.ts imports express; only src/http/ may',
      'src/scim/x.ts imports express; src/scim/ must not',
    ]);
    expect(violations(path.join('http', 'x.ts'), ['@kubernetes/client-node/dist/gen'])).toEqual(['src/http/x.ts imports @kubernetes/client-node/dist/gen; only src/k8s/ may']);
    expect(violations(path.join('k8s', 'x.ts'), ['@kubernetes/client-node'])).toEqual([]);
  });

  it('src/reconciler holds no SQL: its statements are the store\'s (src/store/reconcilerStore.ts), passed in', () => {
    const found = files
      .filter((f) => path.relative(src, f).split(path.sep)[0] === 'reconciler')
      .flatMap((f) => sqlOf(readFileSync(f, 'utf8')).map((q) => `${rel(f)}: ${q}`));
    expect(found).toEqual([]);
  });

  it('recognises SQL in strings and templates, not in comments or prose', () => {
    expect(sqlOf('const a = `select 1 from t where id = ${x}`; const b = \'delete from t\'; await db.query(a);')).toEqual(['select 1 from', 'delete from t', '.query(']);
    expect(sqlOf('const c = `\n  with recursive m(id) as (select 1) select * from m`; const d = "update reconcile_queue set x = 1";')).toEqual(['with recursive m(id)', 'update reconcile_queue set']);
    expect(sqlOf("// select 1 from t\nconst e = 'update'; const f = `with ${n} items`; log.info('deleted from the target');")).toEqual([]);
    expect(sqlOf(readFileSync(path.join(src, 'store', 'reconcileQueue.ts'), 'utf8')).length).toBeGreaterThan(5);
  });

  it('has no import cycles', () => {
    const graph = new Map(files.map((f) => [f, imports.get(f)!.map((s) => resolveLocal(f, s)).filter((x): x is string => x !== undefined)]));
    const cycles = findCycles(graph).map((c) => c.map(rel).join(' → '));
    expect(cycles).toEqual([]);
  });

  it('finds a cycle and names its files', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });
});
