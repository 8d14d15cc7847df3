// The operator's test rig: the loopback fake apiserver (test/fakeApiserver, CRD validation
// plugged in), a test database, real `scimsync operator` child processes with short lease
// settings, and a real `scimsync start` ingress for SCIM requests.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../src/store/embedded.js';
import { startFakeApiserver, type FakeApiserver, type KObject } from '../fakeApiserver/index.js';
import { cliEnv, ROOT, sleep, startCli, waitForOk, type CliProcess } from './cli.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const PUBLIC_URL = 'https://scim.example.test';

/** Lease settings for tests: failover in about 2 s instead of 15 s. */
export const SHORT_LEASE = {
  LEADER_ELECTION_LEASE_DURATION_MS: '2000',
  LEADER_ELECTION_RENEW_DEADLINE_MS: '1500',
  LEADER_ELECTION_RETRY_PERIOD_MS: '250',
};

export interface OperatorRig {
  fake: FakeApiserver;
  db: TestDatabase;
  kubeconfig: string;
  /** Starts an operator replica; resolves once its /readyz answers 200 (informers synced). */
  startOperator(name: string, env?: Record<string, string>): Promise<{ proc: CliProcess; port: number }>;
  /** Starts the SCIM ingress (`scimsync start`, reconciler off) on the same database. */
  startIngress(): Promise<{ proc: CliProcess; base: string }>;
  close(): Promise<void>;
}

/**
 * The CRD the fake serves: deploy/crds/ as it is (schema, defaults, CEL enforced), or with
 * `permissiveSpec` one whose spec has no schema (x-kubernetes-preserve-unknown-fields), as a
 * CRD installed before the operator's schema would be: what the operator itself must refuse.
 */
function crdFor(permissiveSpec: boolean): object {
  const crd = parseYaml(readFileSync(path.join(ROOT, 'deploy/crds/scimconfigs.scimsync.io.yaml'), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }[] };
  };
  if (permissiveSpec) for (const v of crd.spec.versions) v.schema.openAPIV3Schema.properties.spec = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return crd;
}

export async function startOperatorRig(opts: { permissiveSpec?: boolean } = {}): Promise<OperatorRig> {
  const fake = await startFakeApiserver({
    namespaces: ['default', 'team-a', 'team-b', 'scimsync-system'],
    bookmarkIntervalMs: 500,
    crds: [crdFor(opts.permissiveSpec ?? false)],
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-operator-'));
  const kubeconfig = path.join(dir, 'kubeconfig.yaml');
  await fake.writeKubeconfig(kubeconfig);
  const db = await createTestDatabase();
  const rig: OperatorRig = {
    fake,
    db,
    kubeconfig,
    async startOperator(name, env = {}) {
      const port = await freePort();
      const proc = startCli(
        ['operator'],
        cliEnv({
          DATABASE_URL: db.url,
          KUBECONFIG: kubeconfig,
          HOST: '127.0.0.1',
          PORT: String(port),
          PUBLIC_URL,
          POD_NAME: name,
          POD_NAMESPACE: 'scimsync-system',
          LOG_LEVEL: 'info',
          ...SHORT_LEASE,
          ...env,
        }),
      );
      await waitForOk(`http://127.0.0.1:${port}/readyz`, proc);
      return { proc, port };
    },
    async startIngress() {
      const port = await freePort();
      const proc = startCli(['start'], cliEnv({ DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), RECONCILER_ENABLED: 'false', LOG_LEVEL: 'warn' }));
      const base = `http://127.0.0.1:${port}`;
      await waitForOk(`${base}/readyz`, proc);
      return { proc, base };
    },
    async close() {
      await fake.stop();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** A ScimConfig as `kubectl apply -f` would send it. */
export function scimConfig(name: string, spec: Record<string, unknown>, opts: { namespace?: string; annotations?: Record<string, string> } = {}): KObject {
  return {
    apiVersion: 'scimsync.io/v1alpha1',
    kind: 'ScimConfig',
    metadata: { name, namespace: opts.namespace ?? 'default', ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec,
  };
}

/** Polls fn until it returns a truthy value (returned) or the timeout passes (throws with the last value). */
/** Resolves with fn's first truthy value (so `false`, `0`, `''` keep it waiting, and are not in the type). */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<Exclude<NonNullable<T>, false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as Exclude<NonNullable<T>, false | 0 | ''>;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await sleep(20);
  }
}

type Cond = { type: string; status: string; reason: string; message: string; lastTransitionTime: string };

export const condition = (obj: KObject | undefined, type: string): Cond | undefined =>
  ((obj?.status as { conditions?: Cond[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

export const secretToken = (secret: KObject | undefined): string | undefined => {
  const data = secret?.data as Record<string, string> | undefined;
  return data?.token ? Buffer.from(data.token, 'base64').toString('utf8') : undefined;
};

/** GET <ingress>/scim/v2/<org>/Users with the token; the HTTP status. */
export async function scimStatus(base: string, org: string, token: string): Promise<number> {
  const res = await fetch(`${base}/scim/v2/${org}/Users?count=1`, { headers: { authorization: `Bearer ${token}` } });
  await res.body?.cancel();
  return res.status;
}
