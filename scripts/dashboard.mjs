#!/usr/bin/env node
// Generates the Grafana dashboard deploy/grafana/scimsync.json (the file the Helm chart ships
// and test/deploy/live.test.ts proves query by query). Edit the panels here, then run
//   node scripts/dashboard.mjs           write deploy/grafana/scimsync.json
//   node scripts/dashboard.mjs --check   exit 1 when the committed file differs
// Metric meanings: docs/metrics.md. Gauges "sampled from the database" are reported alike by
// every reconciler replica: combine them with max/min, never sum.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../deploy/grafana/scimsync.json');
const DS = { type: 'prometheus', uid: '${datasource}' };
const ORG = 'organization=~"$organization"';
const JOB = 'job=~"$job"';
const RI = '[$__rate_interval]';

/**
 * A panel as written below: Grafana's panel JSON without id, datasource and gridPos (panel()
 * adds them); `instant` makes every target an instant query.
 * @typedef {{ targets: Record<string, unknown>[], instant?: boolean } & Record<string, unknown>} PanelSpec
 */

let nextId = 1;
/** @type {Record<string, unknown>[]} */
const panels = [];
let y = 0;
let rowX = 0;
let rowH = 0;

/** @param {string} title */
function row(title) {
  if (rowX) y += rowH;
  rowX = 0;
  rowH = 0;
  panels.push({ id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
  y += 1;
}

/**
 * Adds a panel at the next free place of the current row (wrapping at 24 columns), or at
 * `at` = { x, dy } (dy: lines below the row's top) when given.
 * @param {PanelSpec} p
 * @param {number} w  grid columns (of 24)
 * @param {number} h  grid lines
 * @param {{ x: number, dy: number }} [at]
 */
function panel(p, w, h, at) {
  if (at) {
    const targets = p.targets.map((t, i) => ({ datasource: DS, refId: String.fromCharCode(65 + i), range: !p.instant, instant: !!p.instant, editorMode: 'code', ...t }));
    const { instant, ...rest } = p;
    panels.push({ id: nextId++, datasource: DS, gridPos: { h, w, x: at.x, y: y + at.dy }, ...rest, targets });
    rowX = 24;
    rowH = Math.max(rowH, at.dy + h);
    return;
  }
  if (rowX + w > 24) {
    y += rowH;
    rowX = 0;
    rowH = 0;
  }
  const targets = p.targets.map((t, i) => ({ datasource: DS, refId: String.fromCharCode(65 + i), range: !p.instant, instant: !!p.instant, editorMode: 'code', ...t }));
  const { instant, ...rest } = p;
  panels.push({ id: nextId++, datasource: DS, gridPos: { h, w, x: rowX, y }, ...rest, targets });
  rowX += w;
  rowH = Math.max(rowH, h);
}

/** @param {...[color: string, value: number | null]} steps */
const thresholds = (...steps) => ({ mode: 'absolute', steps: steps.map(([color, value]) => ({ color, value })) });
/**
 * @param {string} unit
 * @param {Record<string, unknown>} [extra]  more fieldConfig defaults
 */
const ts = (unit, extra = {}) => ({ defaults: { unit, custom: { drawStyle: 'line', fillOpacity: 10, showPoints: 'never' }, ...extra }, overrides: [] });
const legend = { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } };
/**
 * Quantile series of a histogram, one per value of the label `by` and quantile.
 * @param {string} metric  the histogram's name, without _bucket
 * @param {string} by  the label kept
 * @param {number[]} qs  quantiles, e.g. [0.5, 0.99]
 */
const quantileTargets = (metric, by, qs) =>
  qs.map((q) => ({
    expr: `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket${RI})))`,
    legendFormat: `p${Math.round(q * 100)} {{${by}}}`,
  }));
const statOpts = { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'area', textMode: 'value' };

// ---- First row: is provisioning healthy, how fast are revocations applied, where is drift ----
row('Provisioning health');
panel(
  {
    type: 'timeseries',
    title: 'Provisioning latency by operation (p50 / p95 / p99)',
    description: 'IdP change committed → target confirmed (scimsync_provisioning_latency_seconds). Revocations have a 30 s p99 SLO (ScimsyncRevocationsSlow).',
    fieldConfig: ts('s'),
    options: legend,
    targets: quantileTargets('scimsync_provisioning_latency_seconds', 'operation', [0.5, 0.95, 0.99]),
  },
  9,
  8,
  { x: 0, dy: 0 },
);
panel(
  {
    type: 'stat',
    title: 'Revocations applied / min',
    description: 'Revocations the targets confirmed, per minute (scimsync_target_requests_total{operation="revoke",outcome="success"}), whether an IdP change or a resync caused them.',
    fieldConfig: { defaults: { unit: 'short', decimals: 1, color: { mode: 'fixed', fixedColor: 'blue' } }, overrides: [] },
    options: { ...statOpts, colorMode: 'value' },
    targets: [{ expr: `sum(rate(scimsync_target_requests_total{operation="revoke",outcome="success"}${RI})) * 60 or vector(0)`, legendFormat: 'revocations/min' }],
  },
  3,
  4,
  { x: 9, dy: 0 },
);
panel(
  {
    type: 'stat',
    title: 'Organizations not Ready',
    description: 'Organizations whose last full pass failed, is retried after an error, or never finished (scimsync_organization_ready == 0). ScimsyncOrganizationNotReady pages after 15 minutes.',
    fieldConfig: { defaults: { unit: 'short', thresholds: thresholds(['green', null], ['red', 1]) }, overrides: [] },
    options: statOpts,
    targets: [{ expr: `count(min by (organization) (scimsync_organization_ready{${ORG}}) == 0) or vector(0)`, legendFormat: 'not Ready' }],
  },
  3,
  4,
  { x: 12, dy: 0 },
);
panel(
  {
    type: 'bargauge',
    title: 'Drift by organization (top 10)',
    description: 'Members the last full pass found missing, extra or changed, per organization (scimsync_drift_members; unmanaged members are not counted). Drift that every pass finds for an hour pages (ScimsyncDriftPersisting).',
    instant: true,
    fieldConfig: { defaults: { unit: 'short', min: 0, thresholds: thresholds(['green', null], ['orange', 1]) }, overrides: [] },
    options: { orientation: 'horizontal', displayMode: 'basic', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, showUnfilled: true },
    targets: [
      {
        expr: `topk(10, sum by (organization) (max by (organization, kind) (scimsync_drift_members{${ORG}, kind=~"missing|extra|changed"})))`,
        legendFormat: '{{organization}}',
        format: 'time_series',
      },
    ],
  },
  6,
  8,
  { x: 18, dy: 0 },
);
panel(
  {
    type: 'stat',
    title: 'Held revocations',
    description: 'Revocations held by the revocation guard until `scimsync approve <org>` (scimsync_revocations_held). The people concerned keep access meanwhile.',
    fieldConfig: { defaults: { unit: 'short', thresholds: thresholds(['green', null], ['orange', 1]) }, overrides: [] },
    options: statOpts,
    targets: [{ expr: `sum(max by (organization) (scimsync_revocations_held{${ORG}})) or vector(0)`, legendFormat: 'held' }],
  },
  3,
  4,
  { x: 15, dy: 0 },
);
panel(
  {
    type: 'bargauge',
    title: 'Time since last full sync',
    description: 'Per organization: now − scimsync_last_full_sync_timestamp_seconds. Full passes run every spec.resyncInterval (default 5m); ScimsyncSyncStale pages at 30m.',
    instant: true,
    fieldConfig: { defaults: { unit: 's', min: 0, thresholds: thresholds(['green', null], ['orange', 900], ['red', 1800]) }, overrides: [] },
    options: { orientation: 'horizontal', displayMode: 'basic', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, showUnfilled: true },
    targets: [{ expr: `time() - max by (organization) (scimsync_last_full_sync_timestamp_seconds{${ORG}})`, legendFormat: '{{organization}}' }],
  },
  9,
  4,
  { x: 9, dy: 4 },
);

// ---- SCIM traffic ----
row('SCIM traffic');
panel(
  {
    type: 'timeseries',
    title: 'SCIM requests / s by resource and method',
    fieldConfig: ts('reqps'),
    options: legend,
    targets: [{ expr: `sum by (resource, method) (rate(scimsync_scim_requests_total${RI}))`, legendFormat: '{{method}} {{resource}}' }],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'SCIM error ratio (4xx, 5xx)',
    description: '4xx are the client’s (an IdP sending bad input or a wrong token); 5xx are ours (ScimsyncScim5xxRatio pages above 5%).',
    fieldConfig: ts('percentunit', { min: 0 }),
    options: legend,
    targets: [
      // "or vector(0)": no 5xx at all reads 0%, not "no data".
      { expr: `(sum(rate(scimsync_scim_requests_total{code=~"4.."}${RI})) or vector(0)) / sum(rate(scimsync_scim_requests_total${RI}))`, legendFormat: '4xx' },
      { expr: `(sum(rate(scimsync_scim_requests_total{code=~"5.."}${RI})) or vector(0)) / sum(rate(scimsync_scim_requests_total${RI}))`, legendFormat: '5xx' },
    ],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'SCIM latency by resource (p50 / p99)',
    fieldConfig: ts('s'),
    options: legend,
    targets: quantileTargets('scimsync_scim_request_duration_seconds', 'resource', [0.5, 0.99]),
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Unknown group members / s by organization',
    description: 'Group member values skipped because they name no User or Group of the organization (scimsync_scim_unknown_members_total): the IdP pushes members it never provisioned here.',
    fieldConfig: ts('ops'),
    options: legend,
    targets: [{ expr: `sum by (organization) (rate(scimsync_scim_unknown_members_total{${ORG}}${RI}))`, legendFormat: '{{organization}}' }],
  },
  8,
  6,
);
panel(
  {
    type: 'timeseries',
    title: 'SCIM auth failures / s by reason',
    description: 'Requests refused at authentication (scimsync_scim_auth_failures_total): 401 by reason, 429 as rate_limited. revoked/expired with an organization: an IdP still has a dead token. A burst of unknown or rate_limited: tokens being tried (ScimsyncScimAuthFailures).',
    fieldConfig: ts('reqps'),
    options: legend,
    targets: [{ expr: `sum by (organization, reason) (rate(scimsync_scim_auth_failures_total${RI}))`, legendFormat: '{{reason}} {{organization}}' }],
  },
  16,
  6,
);

// ---- Reconciler ----
row('Reconciler');
panel(
  {
    type: 'timeseries',
    title: 'Queue depth and oldest change',
    description: 'Items in reconcile_queue and the age of the oldest unreconciled desired-state change (resyncs excluded).',
    fieldConfig: {
      defaults: { unit: 'short', custom: { drawStyle: 'line', fillOpacity: 10, showPoints: 'never' } },
      overrides: [{ matcher: { id: 'byName', options: 'oldest change' }, properties: [{ id: 'unit', value: 's' }, { id: 'custom.axisPlacement', value: 'right' }] }],
    },
    options: legend,
    targets: [
      { expr: 'max(scimsync_queue_depth)', legendFormat: 'depth' },
      { expr: 'max(scimsync_queue_oldest_seconds)', legendFormat: 'oldest change' },
    ],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Reconcile passes / s by kind and result',
    fieldConfig: ts('ops'),
    options: legend,
    targets: [{ expr: `sum by (kind, result) (rate(scimsync_reconcile_total${RI}))`, legendFormat: '{{kind}} {{result}}' }],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Reconcile errors / s by kind',
    description: 'error: retried with backoff; terminal: not retried until the next change or resync (`scimsync events <org>`).',
    fieldConfig: ts('ops'),
    options: legend,
    targets: [{ expr: `sum by (kind, result) (rate(scimsync_reconcile_total{result=~"error|terminal"}${RI}))`, legendFormat: '{{kind}} {{result}}' }],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Target calls / s by outcome',
    description: 'Every attempt against the application (retries included). throttled is back-pressure the reconciler honours; client/server/network errors page above 5% (ScimsyncTargetErrors).',
    fieldConfig: ts('ops'),
    options: legend,
    targets: [{ expr: `sum by (target, operation, outcome) (rate(scimsync_target_requests_total${RI}))`, legendFormat: '{{target}} {{operation}} {{outcome}}' }],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Reconcile duration by kind (p50 / p99)',
    fieldConfig: ts('s'),
    options: legend,
    targets: quantileTargets('scimsync_reconcile_duration_seconds', 'kind', [0.5, 0.99]),
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Failing items and held revocations',
    fieldConfig: ts('short'),
    options: legend,
    targets: [
      { expr: 'max(scimsync_queue_failing)', legendFormat: 'failing items' },
      { expr: `max by (organization) (scimsync_revocations_held{${ORG}})`, legendFormat: 'held {{organization}}' },
    ],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Drift members by organization and kind',
    fieldConfig: ts('short'),
    options: legend,
    targets: [{ expr: `max by (organization, kind) (scimsync_drift_members{${ORG}})`, legendFormat: '{{organization}} {{kind}}' }],
  },
  12,
  8,
);
panel(
  {
    type: 'state-timeline',
    title: 'Organization Ready',
    fieldConfig: {
      defaults: {
        mappings: [{ type: 'value', options: { 0: { text: 'not Ready', color: 'red' }, 1: { text: 'Ready', color: 'green' } } }],
        thresholds: thresholds(['red', null], ['green', 1]),
      },
      overrides: [],
    },
    options: { showValue: 'never', mergeValues: true, rowHeight: 0.8 },
    targets: [{ expr: `min by (organization) (scimsync_organization_ready{${ORG}})`, legendFormat: '{{organization}}' }],
  },
  12,
  8,
);

// ---- Operator (scimsync operator: ScimConfig custom resources) ----
row('Operator');
panel(
  {
    type: 'stat',
    title: 'Leaders',
    description: 'Operator replicas holding the leader Lease: 1 when healthy (ScimsyncNoOperatorLeader pages on 0).',
    fieldConfig: { defaults: { unit: 'short', thresholds: thresholds(['red', null], ['green', 1], ['red', 2]) }, overrides: [] },
    options: statOpts,
    targets: [{ expr: 'sum(scimsync_operator_leader)', legendFormat: 'leaders' }],
  },
  4,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Operator reconciles / s by result',
    fieldConfig: ts('ops'),
    options: legend,
    targets: [{ expr: `sum by (result) (rate(scimsync_operator_reconcile_total${RI}))`, legendFormat: '{{result}}' }],
  },
  5,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Operator reconcile errors / s',
    fieldConfig: ts('ops'),
    options: legend,
    targets: [{ expr: `sum(rate(scimsync_operator_reconcile_total{result="error"}${RI}))`, legendFormat: 'errors' }],
  },
  5,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Operator queue depth and reconcile p99',
    fieldConfig: {
      defaults: { unit: 'short', custom: { drawStyle: 'line', fillOpacity: 10, showPoints: 'never' } },
      overrides: [{ matcher: { id: 'byName', options: 'reconcile p99' }, properties: [{ id: 'unit', value: 's' }, { id: 'custom.axisPlacement', value: 'right' }] }],
    },
    options: legend,
    targets: [
      { expr: 'max(scimsync_operator_queue_depth)', legendFormat: 'queue depth' },
      { expr: `histogram_quantile(0.99, sum by (le) (rate(scimsync_operator_reconcile_duration_seconds_bucket${RI})))`, legendFormat: 'reconcile p99' },
    ],
  },
  5,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Watch restarts / min by resource',
    description: 'Informer watches restarted after an error (the operator supervises and restarts them with backoff). A steady rate means the apiserver drops watches.',
    fieldConfig: ts('short'),
    options: legend,
    targets: [{ expr: `sum by (resource) (rate(scimsync_operator_watch_restarts_total${RI})) * 60`, legendFormat: '{{resource}}' }],
  },
  5,
  8,
);

// ---- Process (every scimsync process: ingress, reconciler, operator) ----
row('Process');
panel(
  {
    type: 'timeseries',
    title: 'Event-loop lag p99',
    fieldConfig: ts('s'),
    options: legend,
    targets: [{ expr: `max by (instance) (nodejs_eventloop_lag_p99_seconds{${JOB}})`, legendFormat: '{{instance}}' }],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'Heap used and resident memory',
    fieldConfig: ts('bytes'),
    options: legend,
    targets: [
      { expr: `sum by (instance) (nodejs_heap_size_used_bytes{${JOB}})`, legendFormat: 'heap {{instance}}' },
      { expr: `sum by (instance) (process_resident_memory_bytes{${JOB}})`, legendFormat: 'rss {{instance}}' },
    ],
  },
  8,
  8,
);
panel(
  {
    type: 'timeseries',
    title: 'CPU (cores)',
    fieldConfig: ts('short'),
    options: legend,
    targets: [{ expr: `sum by (instance) (rate(process_cpu_seconds_total{${JOB}}${RI}))`, legendFormat: '{{instance}}' }],
  },
  8,
  8,
);

const dashboard = {
  __inputs: [],
  annotations: { list: [] },
  description: 'scimsync: is provisioning healthy, how fast are revocations applied, where is drift. Alerts: deploy/prometheus/scimsync-rules.yaml; runbooks: docs/runbooks/.',
  editable: true,
  graphTooltip: 1,
  links: [],
  panels,
  refresh: '30s',
  schemaVersion: 39,
  tags: ['scimsync'],
  templating: {
    list: [
      { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '' },
      {
        name: 'organization',
        label: 'Organization',
        type: 'query',
        datasource: DS,
        query: { query: 'label_values(scimsync_organization_ready, organization)', refId: 'organization' },
        definition: 'label_values(scimsync_organization_ready, organization)',
        includeAll: true,
        allValue: '.*',
        multi: true,
        current: { selected: true, text: ['All'], value: ['$__all'] },
        refresh: 2,
        sort: 1,
      },
      {
        // Process panels need the scrape jobs of scimsync's processes (their Node metrics carry
        // no scimsync prefix); the chart's ServiceMonitor/PodMonitor jobs contain "scimsync".
        name: 'job',
        label: 'Job',
        type: 'query',
        datasource: DS,
        query: { query: 'label_values(nodejs_version_info, job)', refId: 'job' },
        definition: 'label_values(nodejs_version_info, job)',
        regex: '/.*scimsync.*/',
        includeAll: true,
        allValue: '.*scimsync.*',
        multi: true,
        current: { selected: true, text: ['All'], value: ['$__all'] },
        refresh: 2,
        sort: 1,
      },
    ],
  },
  time: { from: 'now-6h', to: 'now' },
  timepicker: {},
  timezone: '',
  title: 'scimsync',
  uid: 'scimsync-overview',
  version: 1,
};

const text = `${JSON.stringify(dashboard, null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(OUT, 'utf8');
  } catch {
    // missing: reported below
  }
  if (current !== text) {
    console.error(`${path.relative(process.cwd(), OUT)} is not what scripts/dashboard.mjs generates; run: node scripts/dashboard.mjs`);
    process.exit(1);
  }
} else {
  writeFileSync(OUT, text);
  console.log(`wrote ${OUT} (${panels.filter((p) => p.type !== 'row').length} panels)`);
}
