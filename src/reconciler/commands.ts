// CLI commands: scimsync reconcile | plan <org> | approve <org> | events <org>.
import type { Logger } from 'pino';
import { parseArgs } from '../cli/args.js';
import type { Config } from '../config.js';
import type { Pool } from '../store/pool.js';
import type { ReconcilerStore } from '../store/reconcilerStore.js';
import { kubernetesSecrets } from './kubernetesSecrets.js';
import { makeTargetResolver } from '../targets/index.js';
import { TargetRejectedError } from '../targets/target.js';
import { loadOrganization, resolveMappedGroups } from './desired.js';
import { decideGuard } from './guard.js';
import { planOrganization } from './planStream.js';
import { startReconciler } from './worker.js';

export interface CommandContext {
  /** The command's pool: the targets' connections (a postgres target without a URL of its own). */
  pool: Pool;
  /** The reconciler's statements over `pool` (src/store/reconcilerStore.ts). */
  store: ReconcilerStore;
  /** `scimsync reconcile`: opens the reconciler's own connections (startReconciler's openStore). */
  openStore: (maxConnections: number) => ReconcilerStore;
  /** The parsed configuration (main.ts is its only reader). */
  config: Config;
  databaseUrl: string;
  log: Logger;
  out: (line: string) => void;
  signal: AbortSignal;
}

type Command = (args: string[], ctx: CommandContext) => Promise<number>;

/** The CLI's argument parser; --once and --json take no value, --limit does. */
function flags(args: string[]): { positional: string[]; opts: Map<string, string | true> } {
  const { positional, flags: opts } = parseArgs(args, ['once', 'json']);
  return { positional, opts };
}

async function orgOrFail(ctx: CommandContext, slug: string | undefined, usage: string) {
  if (!slug) {
    ctx.out(`usage: ${usage}`);
    return undefined;
  }
  const org = await loadOrganization(ctx.store, slug);
  if (!org) ctx.out(`organization "${slug}" not found`);
  return org;
}

const reconcile: Command = async (args, ctx) => {
  const { opts } = flags(args);
  await startReconciler({ openStore: ctx.openStore, databaseUrl: ctx.databaseUrl, log: ctx.log, signal: ctx.signal, config: ctx.config, once: opts.has('once') });
  return 0;
};

const plan: Command = async (args, ctx) => {
  const { positional, opts } = flags(args);
  const org = await orgOrFail(ctx, positional[0], 'scimsync plan <organization> [--json]');
  if (!org) return 2;
  const config = ctx.config;
  const secrets = config.TARGET_SECRETS === 'kubernetes' ? await kubernetesSecrets(ctx.pool, ctx.log, config.KUBECONFIG) : undefined;
  const targets = makeTargetResolver({ pool: ctx.pool, secretsDir: config.RECONCILER_SECRETS_DIR, readSecret: secrets?.read });
  // The last pass's failure (a target answering 4xx fails the pass; src/reconciler/reconcile.ts outcomeOf).
  const lastError = await ctx.store.lastError(org.id);
  try {
    const target = await targets.targetFor(org);
    let planned;
    try {
      planned = await planOrganization(ctx.store, org, await resolveMappedGroups(ctx.store, org), target, config.RECONCILER_PAGE_SIZE, ctx.signal);
    } catch (e) {
      // A 4xx from the target (credential revoked, access withdrawn): reported, exit 1.
      if (!(e instanceof TargetRejectedError) || !(e.status && e.status >= 400 && e.status < 500)) throw e;
      if (opts.has('json')) ctx.out(JSON.stringify({ organization: org.slug, target: target.kind, targetRejected: e.message, lastError }, null, 2));
      else {
        ctx.out(`organization ${org.slug} (target ${target.kind}): the target rejected the plan's calls: ${e.message}`);
        if (lastError) ctx.out(`last pass error: ${lastError}`);
      }
      return 1;
    }
    const { plan: p, actualCount, desiredCount } = planned;
    const guard = org.spec.revocationGuard;
    const holds = await ctx.store.listHolds(org.id);
    const approved = new Set(holds.filter((h) => h.approvedAt).map((h) => h.email));
    const unapproved = p.revocations.filter((r) => !approved.has(r.email)).length;
    const decision = decideGuard(guard, actualCount, await ctx.store.revokedInWindow(org.id, guard.window), unapproved);
    const failing = await ctx.store.failingItems(org.id);
    if (opts.has('json')) {
      ctx.out(JSON.stringify({ organization: org.slug, target: target.kind, dryRun: org.spec.dryRun, desiredCount, actualCount, plan: p, guard: decision, holds, failing, lastError }, null, 2));
      return 0;
    }
    ctx.out(`organization ${org.slug} (target ${target.kind}${org.spec.dryRun ? ', dry run' : ''}): ${desiredCount} desired, ${actualCount} in the target`);
    for (const g of p.grants) ctx.out(`  + grant   ${g.email} role=${g.role}${g.teams.length ? ` teams=${g.teams.join(',')}` : ''}`);
    for (const u of p.updates) ctx.out(`  ~ update  ${u.member.email} role ${u.from.role}→${u.member.role} teams [${u.from.teams.join(',')}]→[${u.member.teams.join(',')}]`);
    for (const r of p.revocations) ctx.out(`  - revoke  ${r.email} (${r.reason})${decision.hold && !approved.has(r.email) ? ' HELD' : ''}`);
    for (const u of p.unmanaged) ctx.out(`  ? unmanaged ${u.email} role=${u.role}${org.spec.revokeUnmanaged ? '' : ' (reported only)'}`);
    for (const e of p.protectedKept) ctx.out(`  = protected ${e} (kept)`);
    if (!p.grants.length && !p.updates.length && !p.revocations.length) ctx.out('  nothing to do');
    if (decision.hold) ctx.out(`revocation guard: ${unapproved} revocation(s) + ${decision.revokedInWindow} in the window exceed the limit of ${decision.limit}; run \`scimsync approve ${org.slug}\``);
    if (holds.length) ctx.out(`held revocations: ${holds.length} (${holds.filter((h) => h.approvedAt).length} approved)`);
    if (lastError) ctx.out(`last pass error: ${lastError}`);
    for (const f of failing) ctx.out(`failing: ${f.userId ? `user ${f.userId}` : 'organization pass'}, ${f.attempts} attempt(s), next ${f.runAt}: ${f.lastError}`);
    return 0;
  } finally {
    await targets.close();
    await secrets?.close();
  }
};

const approve: Command = async (args, ctx) => {
  const org = await orgOrFail(ctx, flags(args).positional[0], 'scimsync approve <organization>');
  if (!org) return 2;
  // One statement approves and records the audit entry (approveHolds' audit option, as the operator does).
  const n = await ctx.store.approveHolds(org.id, { actor: 'cli' });
  await ctx.store.markOrganization(org.id);
  ctx.out(n ? `approved ${n} held revocation(s) of ${org.slug}; the next pass applies them` : `no held revocations for ${org.slug}`);
  return 0;
};

const events: Command = async (args, ctx) => {
  const { positional, opts } = flags(args);
  const org = await orgOrFail(ctx, positional[0], 'scimsync events <organization> [--limit N] [--json]');
  if (!org) return 2;
  const limit = Number(opts.get('limit') ?? 50);
  if (!Number.isInteger(limit) || limit <= 0) {
    ctx.out('--limit must be a positive integer');
    return 2;
  }
  const rows = await ctx.store.listEvents(org.id, limit);
  if (opts.has('json')) {
    for (const r of rows) ctx.out(JSON.stringify(r));
    return 0;
  }
  const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(1)}ms`);
  for (const r of rows) {
    ctx.out(`${r.at}  ${r.operation.padEnd(6)} ${r.result.padEnd(8)} ${r.email}${r.role ? ` role=${r.role}` : ''}${r.reason ? ` (${r.reason})` : ''}  latency=${ms(r.latencyMs)} call=${ms(r.durationMs)}${r.error ? `  error: ${r.error}` : ''}`);
  }
  if (!rows.length) ctx.out(`no events for ${org.slug}`);
  return 0;
};

export const reconcilerCommands: Record<'reconcile' | 'plan' | 'approve' | 'events', Command> = { reconcile, plan, approve, events };
