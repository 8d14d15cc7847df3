// The alert rules: promtool's own checks and unit tests (deploy/prometheus/tests, one file per
// alert, each with a case that fires and one that stays silent), and the conventions every
// alert follows (severity, summary, description, runbook that exists and says what to run).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { alertRules, RULE_TESTS_DIR, RULES_FILE, RUNBOOK_BASE } from './monitoring.js';
import { prometheusTools, ROOT, runTool, type PrometheusTools } from './tools.js';

let tools: PrometheusTools;
beforeAll(async () => {
  tools = await prometheusTools();
}, 240_000);

const REQUIRED_ALERTS = [
  'ScimsyncRevocationsSlow',
  'ScimsyncSyncStale',
  'ScimsyncDriftPersisting',
  'ScimsyncRevocationsHeld',
  'ScimsyncItemsFailing',
  'ScimsyncTargetErrors',
  'ScimsyncScim5xxRatio',
  'ScimsyncScimAuthFailures',
  'ScimsyncNoOperatorLeader',
  'ScimsyncOrganizationNotReady',
  'ScimsyncMetricsAbsent',
];

describe('promtool', () => {
  it('check rules accepts the rule file', async () => {
    const r = await runTool(tools.promtool, ['check', 'rules', RULES_FILE]);
    expect(r.stderr + r.stdout).toContain(`SUCCESS: ${alertRules().length} rules found`);
    expect(r.code).toBe(0);
  });

  it('test rules passes every unit test', async () => {
    const files = readdirSync(RULE_TESTS_DIR).filter((f) => f.endsWith('.yaml')).map((f) => path.join(RULE_TESTS_DIR, f));
    const r = await runTool(tools.promtool, ['test', 'rules', ...files], { cwd: path.dirname(RULES_FILE) });
    expect(r.stdout + r.stderr).not.toContain('FAILED');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((r.stdout + r.stderr).match(/SUCCESS/g)?.length).toBe(files.length);
  });

  it('a broken expectation makes promtool test rules fail (the tests can fail)', async () => {
    const file = path.join(RULE_TESTS_DIR, 'ScimsyncItemsFailing.yaml');
    const text = readFileSync(file, 'utf8').replace('severity: warning', 'severity: critical').replace('  - ../scimsync-rules.yaml', `  - ${JSON.stringify(RULES_FILE)}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'scimsync-promtool-'));
    try {
      writeFileSync(path.join(dir, 'broken.yaml'), text);
      const r = await runTool(tools.promtool, ['test', 'rules', path.join(dir, 'broken.yaml')], { cwd: dir });
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('FAILED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every alert', () => {
  const rules = alertRules();

  it('the issue\'s alerts are all there, with unique names', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...REQUIRED_ALERTS].sort());
  });

  it.each(REQUIRED_ALERTS)('%s has severity, summary, description and a runbook URL', (name) => {
    const r = rules.find((x) => x.alert === name)!;
    expect(['critical', 'warning']).toContain(r.labels?.severity);
    expect(r.annotations?.summary?.length).toBeGreaterThan(10);
    expect(r.annotations?.description?.length).toBeGreaterThan(20);
    expect(r.annotations?.runbook_url).toBe(`${RUNBOOK_BASE}${name}.md`);
  });

  it.each(REQUIRED_ALERTS)('%s has a runbook with symptoms, causes and the commands to run', (name) => {
    const file = path.join(ROOT, 'docs/runbooks', `${name}.md`);
    expect(existsSync(file), file).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(new RegExp(`^# ${name}\\b`, 'm'));
    for (const section of ['## Symptoms', '## Likely causes', '## Diagnose', '## Fix']) expect(text).toContain(section);
    // Exact commands, in shell code blocks.
    const commands = [...text.matchAll(/```(?:sh|shell|bash)\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
    expect(commands).toMatch(/\b(scimsync|kubectl)\b/);
  });

  it.each(REQUIRED_ALERTS)('%s has a promtool unit test that fires and one that stays silent', (name) => {
    const doc = parse(readFileSync(path.join(RULE_TESTS_DIR, `${name}.yaml`), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === name);
    expect(cases.some((c) => c.exp_alerts.length > 0)).toBe(true);
    // Silent: a whole test (its own input) where the alert is expected nowhere.
    const silentTests = doc.tests.filter((t) => (t.alert_rule_test ?? []).every((c) => c.alertname !== name || c.exp_alerts.length === 0) && (t.alert_rule_test ?? []).some((c) => c.alertname === name));
    expect(silentTests.length).toBeGreaterThan(0);
  });
});
