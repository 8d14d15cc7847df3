// Prints bench/results/latest.json as the Markdown table used in docs/benchmarks.md.
//   node bench/table.mjs [file]
import { readFile } from 'node:fs/promises';
import { markdownTable } from './lib/report.mjs';

/** @type {import('./lib/report.mjs').BenchResult} */
const r = JSON.parse(await readFile(process.argv[2] ?? new URL('./results/latest.json', import.meta.url), 'utf8'));
const lines = [
  `Mode ${r.mode}, ${r.medianNote}; ${r.seconds} s in all. Machine: ${r.machine.cpus}, ${r.machine.memoryGb} GB RAM, Node ${r.machine.node}, ${r.machine.os}; PostgreSQL ${r.postgres.version} (${r.postgres.kind}); commit ${r.machine.commit}.`,
  `Load average before: ${JSON.stringify(r.loadBefore)}; after: ${JSON.stringify(r.loadAfter)}.`,
  '',
  markdownTable(r.rows),
  '',
  ...r.notes.map((n) => `- ${n}`),
];
process.stdout.write(`${lines.join('\n')}\n`);
