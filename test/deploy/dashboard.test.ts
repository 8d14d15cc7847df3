// The Grafana dashboard's structure (its queries are proven live in live.test.ts): generated
// from scripts/dashboard.mjs, the first row the issue asks for, variables, no hard-coded data
// source or rate window, no overlapping panels.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { dashboard, panelQueries } from './monitoring.js';
import { ROOT } from './tools.js';

const d = dashboard();

describe('deploy/grafana/scimsync.json', () => {
  it('is what scripts/dashboard.mjs generates', async () => {
    await expect(promisify(execFile)(process.execPath, [path.join(ROOT, 'scripts/dashboard.mjs'), '--check'], { cwd: ROOT })).resolves.toBeDefined();
  });

  it('opens with the provisioning-health row: latency, revocations/min, not Ready, drift top 10, last full sync, held', () => {
    const rows = d.panels.filter((p: { type: string }) => p.type === 'row');
    expect(rows.map((r: { title: string }) => r.title)).toEqual(['Provisioning health', 'SCIM traffic', 'Reconciler', 'Operator', 'Process']);
    const first = d.panels.filter((p: { type: string; gridPos: { y: number } }) => p.type !== 'row' && p.gridPos.y < rows[1].gridPos.y);
    const byTitle = (re: RegExp) => first.find((p: { title: string }) => re.test(p.title));
    expect(byTitle(/latency by operation/)?.targets.map((t: { expr: string }) => t.expr.match(/histogram_quantile\(([\d.]+)/)?.[1])).toEqual(['0.5', '0.95', '0.99']);
    expect(byTitle(/Revocations applied \/ min/)).toBeDefined();
    expect(byTitle(/Organizations not Ready/)).toBeDefined();
    expect(byTitle(/Drift by organization \(top 10\)/)?.targets[0].expr).toMatch(/^topk\(10,/);
    expect(byTitle(/Time since last full sync/)?.targets[0].expr).toMatch(/^time\(\) - /);
    expect(byTitle(/Held revocations/)).toBeDefined();
    expect(first).toHaveLength(6);
  });

  it('has datasource, organization and job variables; every query uses the datasource variable', () => {
    const vars = Object.fromEntries(d.templating.list.map((v: { name: string }) => [v.name, v]));
    expect(vars.datasource.type).toBe('datasource');
    expect(vars.datasource.query).toBe('prometheus');
    expect(vars.organization.includeAll).toBe(true);
    expect(vars.organization.datasource.uid).toBe('${datasource}');
    for (const p of d.panels.filter((x: { type: string }) => x.type !== 'row')) {
      expect(p.datasource.uid, p.title).toBe('${datasource}');
      for (const t of p.targets) expect(t.datasource.uid, p.title).toBe('${datasource}');
    }
  });

  it('rates use $__rate_interval, never a fixed window', () => {
    for (const q of panelQueries()) {
      for (const m of q.expr.matchAll(/\b(?:rate|increase|irate)\([^[]*\[([^\]]+)\]/g)) expect(m[1], `${q.panel}: ${q.expr}`).toBe('$__rate_interval');
    }
  });

  it('per-organization gauges are filtered by $organization and combined with max/min, never sum across replicas', () => {
    for (const q of panelQueries()) {
      for (const name of ['scimsync_organization_ready', 'scimsync_drift_members', 'scimsync_revocations_held', 'scimsync_last_full_sync_timestamp_seconds']) {
        if (!q.expr.includes(name)) continue;
        expect(q.expr, q.panel).toContain(`${name}{organization=~"$organization"`);
        expect(q.expr, q.panel).toMatch(new RegExp(`(max|min) by \\(organization[^)]*\\) \\(${name}`));
      }
    }
  });

  it('panels do not overlap and stay within 24 columns', () => {
    const cells = new Map<string, string>();
    for (const p of d.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          const key = `${i},${j}`;
          expect(cells.get(key), `${p.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, p.title);
        }
    }
    expect(new Set(d.panels.map((p: { id: number }) => p.id)).size).toBe(d.panels.length);
  });
});
