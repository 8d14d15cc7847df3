// `scimsync audit <org> [--limit N] [--json]`: the newest entries of the audit trail.
import { listAudit } from '../store/audit.js';
import type { Pool } from '../store/pool.js';
import { parseArgs } from './args.js';

const USAGE = 'usage: scimsync audit <organization> [--limit N] [--json]';

export async function auditCommand(argv: string[], ctx: { pool: Pool; out: (l: string) => void; err: (l: string) => void }): Promise<number> {
  const { positional, flags } = parseArgs(argv, ['json']);
  const org = positional[0];
  const limit = Number(flags.get('limit') ?? 50);
  if (!org || !Number.isInteger(limit) || limit <= 0) {
    ctx.err(USAGE);
    return 2;
  }
  // By slug, not id: the entries of a deleted organization stay readable.
  const rows = await listAudit(ctx.pool, org, limit);
  if (flags.has('json')) {
    for (const r of rows) ctx.out(JSON.stringify(r));
    return 0;
  }
  for (const r of rows) ctx.out([new Date(r.at).toISOString(), r.actor, r.operation, r.resourceId ?? '-', r.requestId ?? '-'].join('\t'));
  if (!rows.length) ctx.err(`no audit entries for organization "${org}"`);
  return 0;
}
