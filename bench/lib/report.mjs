// The results table: scenario | metric | ours | limit | peer | ours/limit | ours/peer | target met?

/**
 * A row of the table (see row()).
 * @typedef {object} Row
 * @property {number} scenario
 * @property {string} metric
 * @property {string} unit
 * @property {'higher' | 'lower'} better
 * @property {number | null} ours
 * @property {number | null} limit
 * @property {number | null} peer
 * @property {string} target  '' when the scenario sets none
 * @property {boolean | null} met  null when there is no target
 * @property {number | null} oursOverLimit
 * @property {number | null} oursOverPeer
 */
/** @typedef {Pick<Row, 'scenario' | 'metric' | 'unit' | 'better' | 'ours'> & Partial<Pick<Row, 'limit' | 'peer' | 'target' | 'met'>>} RowInput */
/**
 * What bench/run.mjs prints and writes to bench/results/*.json (the parts read back here).
 * @typedef {object} BenchResult
 * @property {'quick' | 'full'} mode
 * @property {string} medianNote
 * @property {number} seconds  the whole run's
 * @property {{ cpus: string, memoryGb: number, node: string, os: string, commit: string | null }} machine
 * @property {{ kind: string, version: string }} postgres
 * @property {ReturnType<typeof import('./common.mjs').loadavg>} loadBefore
 * @property {ReturnType<typeof import('./common.mjs').loadavg>} loadAfter
 * @property {Row[]} rows
 * @property {string[]} notes
 */

/** @param {number | string | null | undefined} v */
const fmt = (v) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));
/** @type {(a: unknown, b: unknown) => number | null} */
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null);

/**
 * A row: {scenario, metric, unit, better: 'higher'|'lower', ours, limit, peer, target, met}.
 * ours/limit and ours/peer are plain quotients of the medians; for throughput higher is
 * better, for times lower is better (the `better` column says which).
 * @param {RowInput} r
 * @returns {Row}
 */
export function row(r) {
  const out = /** @type {Row} */ ({ limit: null, peer: null, target: '', met: null, ...r }); // the quotients follow
  out.oursOverLimit = ratio(out.ours, out.limit);
  out.oursOverPeer = ratio(out.ours, out.peer);
  return out;
}

/**
 * Target for throughput scenarios 1–4 (issue 11): ours ≥ peerTimes × the peer, medians of
 * the same run. The limit (bare SQL) is printed beside it as a ceiling, not a target.
 * @param {Row} r
 * @param {number} peerTimes
 * @returns {Row}
 */
export function throughputTarget(r, peerTimes) {
  if (r.peer === null || r.peer === undefined) return r;
  r.target = `≥${peerTimes}× peer`;
  r.met = r.oursOverPeer !== null && r.oursOverPeer >= peerTimes;
  return r;
}

/** @param {readonly Row[]} rows */
export function markdownTable(rows) {
  const lines = ['| # | metric | ours | limit | peer | ours/limit | ours/peer | target | met? |', '|---|---|--:|--:|--:|--:|--:|---|---|'];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.metric} (${r.unit}, ${r.better} is better) | ${fmt(r.ours)} | ${fmt(r.limit)} | ${fmt(r.peer)} | ${fmt(r.oursOverLimit)} | ${fmt(r.oursOverPeer)} | ${r.target || ''} | ${r.met === null ? '' : r.met ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

/** @param {BenchResult} result */
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
  /** @param {string[]} cells */
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
