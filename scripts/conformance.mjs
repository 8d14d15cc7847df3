#!/usr/bin/env node
// Runs the external SCIM conformance suites (../shared/conformance: Microsoft's Postman
// collection and Okta's Runscope test) against a real `scimsync start` on an empty embedded
// database, and fails when an assertion fails that conformance/expected-failures.txt does
// not list (or a listed one unexpectedly passes, so the list stays true).
//   node scripts/conformance.mjs [--suites "microsoft okta"] [--shared ../shared]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, chmodSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** @type {(name: string, dflt: string) => string} */
const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const shared = path.resolve(root, arg('shared', '../shared'));
const suites = arg('suites', 'microsoft okta');
const ORG = 'conformance';

/** @type {() => Promise<number>} */
const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = /** @type {import('node:net').AddressInfo} */ (s.address()).port; s.close(() => res(p)); }); });

/** @returns {Map<string, string>} "suite\tassertion" → why it is expected to fail */
function expectedFailures() {
  const file = path.join(root, 'conformance/expected-failures.txt');
  /** @type {Map<string, string>} */
  const set = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [suite, name, reason] = line.split('\t');
    if (!reason) throw new Error(`expected-failures.txt: every entry needs suite<TAB>assertion<TAB>reason: ${line}`);
    set.set(`${suite}\t${name}`, reason);
  }
  return set;
}

/**
 * Failed assertions as "suite\tname", from the suites' JSON reports.
 * @param {string} out  the reports' directory
 * @returns {string[]}
 */
function actualFailures(out) {
  /** @type {string[]} */
  const failures = [];
  const ms = path.join(out, 'microsoft.json');
  if (existsSync(ms)) {
    for (const f of JSON.parse(readFileSync(ms, 'utf8')).run.failures) failures.push(`microsoft\t${f.source?.name} :: ${f.error?.test ?? f.error?.name}`);
  }
  const okta = path.join(out, 'okta.json');
  if (existsSync(okta)) {
    for (const s of JSON.parse(readFileSync(okta, 'utf8')).steps) if (!s.ok) failures.push(`okta\t${s.name}`);
  }
  return failures;
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'scimsync-conformance-'));
chmodSync(dataDir, 0o755);
const port = await freePort();
/** @type {NodeJS.ProcessEnv} */
const env = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
delete env.DATABASE_URL;
writeFileSync(path.join(dataDir, 'scimconfig.yaml'), `apiVersion: scimsync.io/v1alpha1\nkind: ScimConfig\nmetadata: {name: ${ORG}}\nspec:\n  organization: ${ORG}\n`);
const server = spawn(process.execPath, [path.join(root, 'dist/main.js'), 'start', '--config', path.join(dataDir, 'scimconfig.yaml')], { env, stdio: ['ignore', 'inherit', 'inherit'] });
let code = 1;
try {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break; } catch {}
    if (Date.now() > deadline || server.exitCode !== null) throw new Error('scimsync did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
  const token = execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'token', 'create', ORG], { env, encoding: 'utf8' }).trim();
  const out = path.join(dataDir, 'reports');
  let runOut = '';
  try {
    runOut = execFileSync('sh', [path.join(shared, 'conformance/run.sh'), ...suites.split(' ')], { env: { ...env, BASE: `http://127.0.0.1:${port}/scim/v2/${ORG}`, TOKEN: token, OUT: out }, encoding: 'utf8' });
  } catch (/** @type {any} */ e) { runOut = e.stdout ?? String(e); }
  process.stdout.write(runOut.replace(/^conformance: /m, 'conformance suites: '));
  const expected = expectedFailures();
  const actual = actualFailures(out);
  const unexpected = actual.filter((f) => !expected.has(f));
  const nowPassing = [...expected.keys()].filter((k) => suites.includes(k.split('\t')[0]) && !actual.includes(k));
  for (const f of actual) console.log(`${expected.has(f) ? 'expected failure' : 'UNEXPECTED FAILURE'}: ${f.replace('\t', ': ')}${expected.has(f) ? ` (${expected.get(f)})` : ''}`);
  for (const k of nowPassing) console.log(`listed as expected failure but passes (remove it from the list): ${k.replace('\t', ': ')}`);
  if (unexpected.length) for (const suite of ['microsoft', 'okta']) if (existsSync(path.join(out, `${suite}.txt`))) console.log(readFileSync(path.join(out, `${suite}.txt`), 'utf8').slice(-6000));
  code = unexpected.length || nowPassing.length ? 1 : 0;
  console.log(`conformance: ${actual.length} failed assertions, ${unexpected.length} unexpected, ${nowPassing.length} listed but passing`);
} finally {
  server.kill('SIGTERM');
  await /** @type {Promise<void>} */ (new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r))));
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
