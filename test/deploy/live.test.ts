// The dashboard and the alerts against the real thing: Debian's Prometheus on 127.0.0.1
// (scrape and rule evaluation every second, the rule file loaded as shipped) scraping a real
// `scimsync start` (ingress + reconciler, default postgres target) and a real `scimsync
// operator` (against the loopback fake apiserver of test/fakeApiserver, handling a ScimConfig)
// while a small SCIM workload creates users and group members and deactivates some (so
// revocations happen). Then every dashboard panel query and every alert expression goes
// through Prometheus's HTTP API: a parse error fails, and so does an empty result where the
// panel must show data (ALLOWED_EMPTY lists the exceptions, each with its reason).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/store/embedded.js';
import { findOrganization } from '../../src/store/orgs.js';
import { createToken, revokeToken } from '../../src/store/tokens.js';
import { cliEnv, killAllCli, sleep, startCli, waitForOk, type CliProcess } from '../helpers/cli.js';
import { condition, eventually, scimConfig, startOperatorRig, type OperatorRig } from '../helpers/operator.js';
import { alertRules, metricNames, panelQueries, RULES_FILE, substitute } from './monitoring.js';
import { prometheusTools, runTool, type PrometheusTools } from './tools.js';
import { USER_SCHEMA as SCIM_USER, GROUP_SCHEMA as SCIM_GROUP, PATCH_OP_SCHEMA as PATCH } from '../../src/scim/schemas.js';

/** Panel queries that may legitimately be empty in a healthy run, with the reason. */
const ALLOWED_EMPTY: Record<string, string> = {
  'Operator reconcile errors / s/A': 'the series exists only once an operator reconcile failed; a healthy run has none',
  'Watch restarts / min by resource/A': 'the series exists only once a watch was restarted; a healthy run has none',
};

/**
 * Queries with an "or vector(0)" default (so Grafana shows 0, not "no data") are also run
 * without it, to prove the real series are there; these may be empty without their default.
 */
const ALLOWED_EMPTY_WITHOUT_DEFAULT: Record<string, string> = {
  'Organizations not Ready/A': 'count(... == 0) is empty while every organization is Ready (the gauge itself is proven by the Organization Ready panel)',
  'SCIM error ratio (4xx, 5xx)/B': 'a healthy run answers no 5xx',
};

// Wall time of the workload, for range queries and the rate window.
const RATE_WINDOW = '2m';

let tools: PrometheusTools;
let rig: OperatorRig;
let scimsync: CliProcess;
let prometheus: ChildProcess | undefined;
let promLog = '';
let promUrl = '';
let tmp = '';
let workloadStart = 0;
/** The scimsync Prometheus scrapes. */
let scimsyncBase = '';
/** The operator Prometheus scrapes. */
let operatorBase = '';

interface PromResult {
  status: string;
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] };
}

async function promGet(pathAndQuery: string, params: Record<string, string>): Promise<PromResult> {
  const res = await fetch(`${promUrl}${pathAndQuery}?${new URLSearchParams(params)}`);
  return (await res.json()) as PromResult;
}

const instant = (query: string) => promGet('/api/v1/query', { query });
const range = (query: string) => promGet('/api/v1/query_range', { query, start: String(workloadStart / 1000 - 5), end: String(Date.now() / 1000), step: '1' });

/** Sample values of a result (instant or range), as numbers. */
function values(r: PromResult): number[] {
  return (r.data?.result ?? []).flatMap((s) => (s.values ?? (s.value ? [s.value] : [])).map(([, v]) => Number(v)));
}

async function waitForQuery(query: string, test: (v: number[]) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: PromResult | undefined;
  while (Date.now() < deadline) {
    last = await instant(query);
    if (last.status === 'success' && test(values(last))) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what} (${query}); last answer: ${JSON.stringify(last)}\nprometheus log:\n${promLog.slice(-2000)}\nscimsync stderr:\n${scimsync?.stderr.slice(-2000)}`);
}

async function startPrometheus(targets: number[]): Promise<void> {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'scimsync-prom-'));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 900ms',
    '  evaluation_interval: 1s',
    'rule_files:',
    `  - ${JSON.stringify(RULES_FILE)}`,
    'scrape_configs:',
    '  - job_name: scimsync',
    '    static_configs:',
    `      - targets: [${targets.map((p) => `"127.0.0.1:${p}"`).join(', ')}]`,
    '',
  ].join('\n');
  await writeFile(path.join(tmp, 'prometheus.yml'), config);
  prometheus = spawn(
    tools.prometheus,
    [
      `--config.file=${path.join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout!.on('data', (d) => (promLog += String(d)));
  prometheus.stderr!.on('data', (d) => (promLog += String(d)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (prometheus.exitCode !== null) throw new Error(`prometheus exited (${prometheus.exitCode}):\n${promLog}`);
    try {
      const res = await fetch(`${promUrl}/-/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s:\n${promLog}`);
    await sleep(100);
  }
}

/** Users, group members, deactivations and deletions (revocations), a few client errors. */
async function workload(base: string, token: string, revokedToken: string): Promise<void> {
  const scim = async (method: string, p: string, body?: unknown, auth = token) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const email = `live.user${i}@example.com`;
    const r = await scim('POST', '/Users', { schemas: [SCIM_USER], userName: email, emails: [{ value: email, primary: true }], active: true });
    expect(r.status).toBe(201);
    ids.push(r.body.id);
  }
  const group = await scim('POST', '/Groups', { schemas: [SCIM_GROUP], displayName: 'Engineering', members: ids.slice(0, 6).map((value) => ({ value })) });
  expect(group.status).toBe(201);
  const add = await scim('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: ids.slice(6, 9).map((value) => ({ value })) }] });
  expect([200, 204]).toContain(add.status);
  // A member value naming no user of the organization: skipped and counted (unknown members).
  const unknown = await scim('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: '00000000-0000-4000-8000-000000000000' }] }] });
  expect([200, 204]).toContain(unknown.status);
  const remove = await scim('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${ids[0]}"]` }] });
  expect([200, 204]).toContain(remove.status);
  // Deprovisioning: three deactivated (Okta, Entra ID), one deleted.
  for (const id of ids.slice(0, 3)) {
    const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] });
    expect([200, 204]).toContain(r.status);
  }
  expect((await scim('DELETE', `/Users/${ids[3]}`)).status).toBe(204);
  expect((await scim('GET', '/Users?count=5')).status).toBe(200);
  // Client errors: a user without userName (400), and an IdP still sending a revoked token.
  expect((await scim('POST', '/Users', { schemas: [SCIM_USER] })).status).toBe(400);
  expect((await scim('GET', '/Users', undefined, revokedToken)).status).toBe(401);
}

beforeAll(async () => {
  tools = await prometheusTools();
  // The operator rig: fake apiserver, test database, `scimsync operator` child process.
  rig = await startOperatorRig();
  const db = rig.db;
  const operator = await rig.startOperator('operator-0', { LOG_LEVEL: 'warn' });
  operatorBase = `http://127.0.0.1:${operator.port}`;
  const port = await freePort();
  scimsync = startCli(['start'], cliEnv({ DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', RECONCILER_POLL_MS: '200' }));
  const base = `http://127.0.0.1:${port}`;
  scimsyncBase = base;
  await waitForOk(`${base}/readyz`, scimsync, 30_000);
  await startPrometheus([port, operator.port]);
  const org = await findOrganization(db.pool, 'demo');
  const { token } = await createToken(db.pool, org!.id);
  const old = await createToken(db.pool, org!.id, { description: 'rotated away' });
  await revokeToken(db.pool, org!.id, old.prefix);
  workloadStart = Date.now();
  // Let Prometheus see every series before the workload moves them.
  await waitForQuery('scimsync_queue_depth', (v) => v.length > 0, 'a first scrape');
  await waitForQuery('count(scimsync_target_requests_total{target="postgres",operation="revoke"})', (v) => v.length > 0, 'the target created by the first full pass');
  await waitForQuery('sum(scimsync_operator_leader)', (v) => v[0] === 1, 'an operator leader');
  // The operator handles a ScimConfig: organization, token Secret, Ready condition.
  rig.fake.create('scimconfigs', scimConfig('acme', { organization: 'acme' }));
  await eventually(() => condition(rig.fake.get('scimconfigs', 'default', 'acme'), 'Ready')?.status === 'True', 10_000, 'ScimConfig acme Ready');
  await workload(`${base}/scim/v2/demo`, token, old.token);
  // The reconciler applies the four revocations to the default postgres target.
  await waitForQuery('sum(scimsync_target_requests_total{operation="revoke",outcome="success"})', (v) => v[0] >= 4, 'four revocations applied');
  await waitForQuery('sum(scimsync_provisioning_latency_seconds_count{operation="revoke"})', (v) => v[0] >= 4, 'revocation latencies observed');
  await waitForQuery('max(scimsync_last_full_sync_timestamp_seconds{organization="demo"})', (v) => v.length > 0, 'a full sync of demo');
  // A second refused request a few scrapes later: the series went 1 → 2, so increase() sees it.
  await sleep(1500);
  const again = await fetch(`${base}/scim/v2/demo/Users`, { headers: { authorization: `Bearer ${old.token}` } });
  expect(again.status).toBe(401);
  await waitForQuery('sum(scimsync_scim_auth_failures_total{reason="revoked",organization="demo"})', (v) => v[0] >= 2, 'two revoked-token requests scraped');
  await waitForQuery('sum(scimsync_operator_reconcile_total)', (v) => v[0] >= 1, 'operator reconciles scraped');
  await waitForQuery('min(scimsync_organization_ready{organization="acme"})', (v) => v[0] === 1, 'acme Ready in the reconciler');
  // Two more scrapes and rule evaluations after the last change.
  await sleep(2500);
}, 180_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
  }
  await killAllCli();
  await rig?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const queries = panelQueries();
const VARIABLE_SETS = [
  { label: 'All organizations', organization: '.*' },
  { label: 'organization demo', organization: 'demo' },
];

describe('every dashboard panel query returns data from a live scimsync', () => {
  for (const vars of VARIABLE_SETS) {
    for (const q of queries) {
      const key = `${q.panel}/${q.refId}`;
      it(`${vars.label}: ${key}`, async () => {
        const expr = substitute(q.expr, { rateInterval: RATE_WINDOW, organization: vars.organization, job: '.*scimsync.*' });
        const r = q.instant ? await instant(expr) : await range(expr);
        expect(r.status, `${expr}: ${r.errorType} ${r.error}`).toBe('success');
        if (ALLOWED_EMPTY[key]) return;
        expect(r.data!.result.length, `no series for ${expr}`).toBeGreaterThan(0);
        expect(values(r).some(Number.isFinite), `only NaN/missing values for ${expr}: ${JSON.stringify(r.data)}`).toBe(true);
        const bare = expr.replace(/\s*or vector\(0\)/g, '').replace(/^\((.*)\) \/ /, '$1 / ');
        if (bare === expr || ALLOWED_EMPTY_WITHOUT_DEFAULT[key]) return;
        const b = q.instant ? await instant(bare) : await range(bare);
        expect(b.status, `${bare}: ${b.errorType} ${b.error}`).toBe('success');
        expect(values(b).some(Number.isFinite), `without its "or vector(0)" default, ${bare} has no data`).toBe(true);
      });
    }
  }

  it('the allow-lists name only panels that exist', () => {
    const keys = new Set(queries.map((q) => `${q.panel}/${q.refId}`));
    for (const k of [...Object.keys(ALLOWED_EMPTY), ...Object.keys(ALLOWED_EMPTY_WITHOUT_DEFAULT)]) expect(keys.has(k), k).toBe(true);
  });

  it('the first row reads what the workload did', async () => {
    const first = (title: string) => {
      const q = queries.find((x) => x.panel.startsWith(title));
      if (!q) throw new Error(`no panel "${title}"`);
      return substitute(q.expr, { rateInterval: RATE_WINDOW, organization: '.*', job: '.*scimsync.*' });
    };
    const one = async (title: string) => values(await instant(first(title)));
    expect((await one('Revocations applied / min'))[0]).toBeGreaterThan(0); // four in the last two minutes
    expect(await one('Organizations not Ready')).toEqual([0]);
    expect(await one('Held revocations')).toEqual([0]);
    const age = await instant(first('Time since last full sync'));
    expect(age.data!.result.map((r) => r.metric.organization).sort()).toEqual(['acme', 'demo']);
    expect(values(age)[0]).toBeGreaterThanOrEqual(0);
    expect(values(age)[0]).toBeLessThan(120);
    const drift = await instant(first('Drift by organization'));
    expect(drift.data!.result.map((r) => r.metric.organization).sort()).toEqual(['acme', 'demo']);
    const p99 = await instant(queries.find((x) => x.panel.startsWith('Provisioning latency') && x.refId === 'C')!.expr.replaceAll('$__rate_interval', RATE_WINDOW));
    const revoke = p99.data!.result.find((r) => r.metric.operation === 'revoke');
    expect(Number(revoke?.value?.[1])).toBeLessThan(30); // well inside the SLO of ScimsyncRevocationsSlow
  });
});

describe('every alert expression, evaluated by a live Prometheus', () => {
  const rules = alertRules();

  it.each(rules.map((r) => [r.alert, r] as const))('%s parses and evaluates', async (_name, rule) => {
    const r = await instant(rule.expr);
    expect(r.status, `${rule.expr}: ${r.errorType} ${r.error}`).toBe('success');
  });

  it.each(rules.map((r) => [r.alert, r] as const))('%s selects only metrics scimsync exports', async (_name, rule) => {
    for (const name of metricNames(rule.expr)) {
      const r = await instant(`count(${name})`);
      expect(r.status).toBe('success');
      expect(values(r)[0], `no series named ${name} (alert ${rule.alert})`).toBeGreaterThan(0);
    }
  });

  it('Prometheus loaded every rule from the file and evaluates each without error', async () => {
    const res = await fetch(`${promUrl}/api/v1/rules`);
    const body = (await res.json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string; state?: string }[] }[] } };
    const loaded = body.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const r of loaded) expect({ name: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({ name: r.name, health: 'ok', lastError: '' });
  });

  it('alert states match the workload: the revoked token is pending, nothing else is', async () => {
    const res = await fetch(`${promUrl}/api/v1/alerts`);
    const body = (await res.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    const active = body.data.alerts.map((a) => ({ alertname: a.labels.alertname, organization: a.labels.organization, reason: a.labels.reason, state: a.state }));
    // ScimsyncScimAuthFailures waits 5 minutes before firing; pending is as far as a test gets.
    expect(active).toEqual([{ alertname: 'ScimsyncScimAuthFailures', organization: 'demo', reason: 'revoked', state: 'pending' }]);
  });
});

describe('promtool check metrics', () => {
  it.each([
    ['scimsync start', () => scimsyncBase, 'scimsync_organization_ready'],
    ['scimsync operator', () => operatorBase, 'scimsync_operator_leader'],
  ] as const)("finds nothing to fix in %s's own metrics (prom-client's process/nodejs defaults left out)", async (_name, base, family) => {
    const text = await (await fetch(`${base()}/metrics`)).text();
    const own = text
      .split('\n')
      .filter((l) => {
        const name = l.startsWith('#') ? l.split(' ')[2] : l.split(/[{ ]/)[0];
        return !!name && name.startsWith('scimsync_');
      })
      .join('\n');
    expect(own).toContain(`# TYPE ${family} gauge`);
    const r = await runTool(tools.promtool, ['check', 'metrics'], { input: `${own}\n` });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
