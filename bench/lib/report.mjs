// The results table: scenario | metric | ours | limit | peer | ours/limit | ours/peer | target met?
const fmt = (v) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null);

/**
 * A row: {scenario, metric, unit, better: 'higher'|'lower', ours, limit, peer, target, met}.
 * ours/limit and ours/peer are plain quotients of the medians; for throughput higher is
 * better, for times lower is better (the `better` column says which).
 */
export function row(r) {
  const out = { limit: null, peer: null, target: '', met: null, ...r };
  out.oursOverLimit = ratio(out.ours, out.limit);
  out.oursOverPeer = ratio(out.ours, out.peer);
  return out;
}

/**
 * Target for throughput scenarios 1–4 (issue 11): ours ≥ peerTimes × the peer, medians of
 * the same run. The limit (bare SQL) is printed beside it as a ceiling, not a target.
 */
export function throughputTarget(r, peerTimes) {
  if (r.peer === null || r.peer === undefined) return r;
  r.target = `≥${peerTimes}× peer`;
  r.met = r.oursOverPeer !== null && r.oursOverPeer >= peerTimes;
  return r;
}

export function markdownTable(rows) {
  const lines = ['| # | metric | ours | limit | peer | ours/limit | ours/peer | target | met? |', '|---|---|--:|--:|--:|--:|--:|---|---|'];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.metric} (${r.unit}, ${r.better} is better) | ${fmt(r.ours)} | ${fmt(r.limit)} | ${fmt(r.peer)} | ${fmt(r.oursOverLimit)} | ${fmt(r.oursOverPeer)} | ${r.target || ''} | ${r.met === null ? '' : r.met ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

export function printTable(result) {
  const head = ['#', 'metric', 'unit', 'ours', 'limit', 'peer', 'ours/limit', 'ours/peer', 'target', 'met?'];
  const body = result.rows.map((r) => [
    String(r.scenario),
    r.metric,
    r.unit,
    fmt(r.ours),
    fmt(r.limit),
    fmt(r.peer),
    fmt(r.oursOverLimit),
    fmt(r.oursOverPeer),
    r.target || '',
    r.met === null ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i >= 3 && i <= 7 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ');
  const out = [
    `scimsync benchmarks (${result.mode}; ${result.medianNote})`,
    `machine: ${result.machine.cpus}, ${result.machine.memoryGb} GB, node ${result.machine.node}, ${result.postgres.kind} ${result.postgres.version}`,
    `load before: ${JSON.stringify(result.loadBefore)}   after: ${JSON.stringify(result.loadAfter)}`,
    '',
    line(head),
    widths.map((w) => '-'.repeat(w)).join('-+-'),
    ...body.map(line),
  ];
  for (const n of result.notes) out.push(`note: ${n}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
