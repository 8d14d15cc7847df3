// Runs the fake apiserver as a process:
//   npx vite-node test/fakeApiserver/main.ts -- --port 6443 --kubeconfig /tmp/fake-kubeconfig
// Prints its URL on the first stdout line and `kubeconfig <path>` on the second; stops on SIGTERM/SIGINT.
// Options: --port N (default 0 = any free port), --kubeconfig PATH (default <tmpdir>/scimsync-fake-kubeconfig-<port>.yaml),
// --namespace NAME (repeatable; extra namespaces to create), --crd FILE (repeatable; more CRDs to serve), --bookmark-interval-ms N, --history N,
// --gc-delay-ms N, --verbose (one stderr line per request).
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadCrd } from './crd.js';
import { startFakeApiserver } from './index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    port: { type: 'string', default: '0' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', multiple: true, default: [] },
    crd: { type: 'string', multiple: true, default: [] },
    'bookmark-interval-ms': { type: 'string' },
    history: { type: 'string' },
    'gc-delay-ms': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

for (const f of values.crd) {
  if (!loadCrd(path.resolve(f))) {
    process.stderr.write(`--crd ${f}: no such file\n`);
    process.exit(2);
  }
}
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const fake = await startFakeApiserver({
  port: Number(values.port),
  namespaces: ['default', 'kube-system', 'kube-public', 'kube-node-lease', ...values.namespace],
  bookmarkIntervalMs: num(values['bookmark-interval-ms']),
  historySize: num(values.history),
  gcDelayMs: num(values['gc-delay-ms']),
  // --crd adds CustomResourceDefinition files to the repository's ScimConfig CRD.
  crds: values.crd.length ? [loadCrd(), ...values.crd.map((f) => loadCrd(path.resolve(f)))].filter((c): c is object => c !== undefined) : undefined,
  log: values.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
});
const kubeconfig = values.kubeconfig ?? path.join(os.tmpdir(), `scimsync-fake-kubeconfig-${fake.port}.yaml`);
await fake.writeKubeconfig(kubeconfig);
process.stdout.write(`${fake.url}\nkubeconfig ${kubeconfig}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await fake.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
