#!/usr/bin/env node
// Copies the files the Helm chart ships from where they are made (deploy/) into
// helm/scimsync/files/: Helm's .Files can only read inside the chart. test/deploy checks the
// copies are identical, so run this after changing any of the sources:
//   node scripts/sync-chart-files.mjs [--check]
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * [source under deploy/, copy under helm/scimsync/files/]
 * @type {[from: string, to: string][]}
 */
export const CHART_FILES = [
  ['deploy/crds/scimconfigs.scimsync.io.yaml', 'helm/scimsync/files/crds/scimconfigs.scimsync.io.yaml'],
  ['deploy/rbac.yaml', 'helm/scimsync/files/rbac.yaml'],
  ['deploy/prometheus/scimsync-rules.yaml', 'helm/scimsync/files/prometheus/scimsync-rules.yaml'],
  ['deploy/grafana/scimsync.json', 'helm/scimsync/files/grafana/scimsync.json'],
];

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [from, to] of CHART_FILES) {
    const src = path.join(ROOT, from);
    const dst = path.join(ROOT, to);
    if (!existsSync(src)) {
      process.stderr.write(`sync-chart-files: ${from} does not exist\n`);
      stale++;
      continue;
    }
    const same = existsSync(dst) && readFileSync(src).equals(readFileSync(dst));
    if (same) continue;
    if (check) {
      process.stderr.write(`sync-chart-files: ${to} differs from ${from}\n`);
      stale++;
    } else {
      mkdirSync(path.dirname(dst), { recursive: true });
      copyFileSync(src, dst);
      process.stderr.write(`sync-chart-files: ${from} → ${to}\n`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
