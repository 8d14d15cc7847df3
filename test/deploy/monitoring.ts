// Reads the monitoring artefacts the way their consumers do: the rule file as Prometheus
// groups, the dashboard's panel queries with Grafana's variables substituted.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './tools.js';

export const RULES_FILE = path.join(ROOT, 'deploy/prometheus/scimsync-rules.yaml');
export const RULE_TESTS_DIR = path.join(ROOT, 'deploy/prometheus/tests');
export const DASHBOARD_FILE = path.join(ROOT, 'deploy/grafana/scimsync.json');
/** The prefix every runbook_url shares (the chart's runbook base URL value replaces it). */
export const RUNBOOK_BASE = 'https://github.com/scimsync/scimsync/blob/main/docs/runbooks/';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function dashboard(): any {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
}

export function panelQueries(): PanelQuery[] {
  const d = dashboard();
  const out: PanelQuery[] = [];
  for (const p of d.panels) {
    for (const t of p.targets ?? []) out.push({ panel: p.title, refId: t.refId, expr: t.expr, instant: !!t.instant });
  }
  return out;
}

/**
 * Substitutes Grafana's variables as Grafana would: $__rate_interval by a window (the live test
 * passes one covering its workload), $organization and $job by a regex (All: the variables'
 * allValue).
 */
export function substitute(expr: string, vars: { rateInterval: string; organization: string; job: string }): string {
  return expr
    .replaceAll('$__rate_interval', vars.rateInterval)
    .replaceAll('$organization', vars.organization)
    .replaceAll('$job', vars.job);
}

/** Metric names an expression selects (scimsync_*, nodejs_*, process_*). */
export function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:scimsync|nodejs|process)_[a-z0-9_]+/g) ?? [])];
}

