// Composition root and CLI: parse config, build pool/logger, start the parts.
//   scimsync start [--config file|dir]   migrate, load ScimConfigs, serve SCIM (+ reconciler)
//   scimsync migrate                     apply migrations
//   scimsync token create|list|revoke    manage bearer tokens
//   scimsync org list|delete             list organizations, delete one (revokes its tokens)
import type { Server, ServerResponse } from 'node:http';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { checkServeConfig, ConfigError, loadConfig, type Config } from './config.js';
import { makeLogger } from './log.js';
import { makeApp, makeMetricsApp, makeOpsApp, type MetricsOptions } from './http/app.js';
import { registerProcessMetrics } from './metrics.js';
import { makeServer, timeoutsOf } from './http/server.js';
import { setOrganizationLabels, setOrganizationStateSource } from './metrics.js';
import { DEMO_CONFIG, loadScimConfigs, type ScimConfigDocument } from './orgs/scimConfig.js';
import { migrate, waitForMigrations } from './store/migrate.js';
import { makePool, type Pool } from './store/pool.js';
import { organizationStates } from './store/reconcileStatus.js';
import { makeReconcilerStore, openReconcilerStore } from './store/reconcilerStore.js';
import { TokenCache } from './store/tokenCache.js';
import { Listener } from './store/listen.js';
import { openDatabase, type Database } from './cli/database.js';
import { parseArgs } from './cli/args.js';
import { tokenCommand } from './cli/tokens.js';
import { auditCommand } from './cli/audit.js';
import { declareOrganizations, orgCommand } from './cli/orgs.js';
import { reconcilerCommands, startReconciler } from './reconciler/index.js';

const HELP = `scimsync — SCIM 2.0 directory sync

  scimsync start [--config <file-or-dir>]   migrate, then serve SCIM at /scim/v2/<org>/
  scimsync migrate                          apply database migrations
  scimsync token create <org> [--description text] [--expires-in 90d]
  scimsync token list <org>
  scimsync token revoke <org> <prefix>
  scimsync org list                         organizations: owner, deleted, live tokens
  scimsync org delete <org>                 delete an organization: revoke its tokens, stop provisioning it
  scimsync reconcile [--once]               run only the reconciler (scale it apart from the ingress);
                                            serves /healthz, /readyz, /metrics on PORT unless --once
  scimsync plan <org> [--json]              what the next pass would do, without doing it
  scimsync approve <org>                    release revocations held by the guard
  scimsync events <org> [--limit N] [--json] the latest applied operations
  scimsync audit <org> [--limit N] [--json]  the audit trail: SCIM writes and admin actions
  scimsync operator                         the Kubernetes operator: ScimConfig resources → organizations,
                                            token Secrets, status (see docs/operator.md)

Settings come from the environment (DATABASE_URL, PORT, LOG_LEVEL, …; see README).`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/**
 * How to run this CLI from the current directory: `./bin/scimsync.js` in a checkout (the
 * README's form: it answers in about a second, where `npx scimsync` first installs the
 * checkout into npm's cache, about 10 s), else the bin file's absolute path.
 */
function cliCommand(): string {
  const bin = fileURLToPath(new URL('../bin/scimsync.js', import.meta.url));
  const rel = path.relative(process.cwd(), bin);
  return rel.startsWith('..') || path.isAbsolute(rel) ? bin : `./${rel}`;
}

function endpointFor(config: Config) {
  const root = config.PUBLIC_URL?.replace(/\/$/, '') ?? `http://localhost:${config.PORT}`;
  return (org: string) => `${root}/scim/v2/${org}`;
}

/**
 * Runs fn with a database and pool, releasing both afterwards. The database is migrated first,
 * or with MIGRATE_ON_START=false waited for until another process (`scimsync migrate`) migrated
 * it; the signal stops that wait.
 */
async function withDatabase<T>(config: Config, log: Logger, fn: (pool: Pool, db: Database) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const db = await openDatabase(config, log);
  try {
    if (config.MIGRATE_ON_START) await migrate(db.url, log);
    const pool = makePool(db.url, { max: config.DATABASE_POOL_SIZE, connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS });
    try {
      if (!config.MIGRATE_ON_START) await waitForMigrations(pool, log, signal);
      return await fn(pool, db);
    } finally {
      await pool.end();
    }
  } finally {
    await db.stop();
  }
}

/** /metrics per METRICS_PORT / METRICS_TOKEN; per-organization gauges read from the database. */
function setupMetrics(config: Config, pool: Pool): MetricsOptions {
  setOrganizationLabels(config.METRICS_ORGANIZATION_LABELS);
  setOrganizationStateSource(() => organizationStates(pool));
  return { onMainPort: !config.METRICS_PORT, token: config.METRICS_TOKEN };
}

/** The separate /metrics server when METRICS_PORT is set; served until the signal aborts. */
async function serveMetrics(config: Config, log: Logger, signal: AbortSignal): Promise<void> {
  if (!config.METRICS_PORT) return;
  const server = makeServer(makeMetricsApp({ log, token: config.METRICS_TOKEN }), timeoutsOf(config), log);
  await listen(server, config.METRICS_PORT, config.HOST);
  log.info({ port: config.METRICS_PORT }, 'serving /metrics');
  await serve(server, signal, config.SHUTDOWN_TIMEOUT_MS, log);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Serves until the signal aborts, then drains in-flight requests (bounded by the timeout). */
async function serve(server: Server, signal: AbortSignal, timeoutMs: number, log: Logger): Promise<void> {
  // IdPs keep connections alive; one that carried an in-flight request would otherwise hold
  // close() until the timeout. While draining, every response closes its connection.
  const inflight = new Set<ServerResponse>();
  const closeAfter = (res: ServerResponse) => {
    if (!res.headersSent) res.shouldKeepAlive = false; // "Connection: close", then closed
    else res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
  };
  server.on('request', (_req, res: ServerResponse) => {
    inflight.add(res);
    res.once('close', () => inflight.delete(res));
    if (signal.aborted) closeAfter(res);
  });
  // A signal during start-up (migrations, embedded PostgreSQL) has already aborted.
  if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  log.info('shutting down: draining in-flight requests');
  for (const res of inflight) closeAfter(res);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => {
    log.warn({ timeoutMs }, 'shutdown timeout: closing remaining connections');
    server.closeAllConnections();
  }, timeoutMs);
  await closed;
  clearTimeout(timer);
}

async function start(argv: string[], config: Config, log: Logger): Promise<number> {
  const { flags } = parseArgs(argv);
  const configPath = flags.get('config');
  const docs: ScimConfigDocument[] = typeof configPath === 'string' ? await loadScimConfigs(configPath) : [DEMO_CONFIG];
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return withDatabase(config, log, async (pool, db) => {
    await declareOrganizations(pool, log, docs, typeof configPath === 'string' ? configPath : undefined);
    // The reconciler runs beside the ingress in one process unless disabled; both stop on
    // the same signal (every runnable part is start(signal) → Promise<void>).
    // One LISTEN connection for the reconciler and the token cache: every NOTIFY signals every
    // listening backend of the database, so a second connection doubles those wake-ups.
    const listener = config.RECONCILER_ENABLED || config.TOKEN_CACHE_TTL_MS > 0 ? new Listener({ url: db.url, log }) : undefined;
    const reconciler = config.RECONCILER_ENABLED
      ? startReconciler({ openStore: (max) => openReconcilerStore(db.url, max), databaseUrl: db.url, log, signal: controller.signal, config, listener })
      : Promise.resolve();
    let failed = false;
    reconciler.catch((e: unknown) => {
      failed = true;
      log.fatal({ err: e }, 'reconciler failed; stopping');
      controller.abort();
    });
    const metrics = setupMetrics(config, pool);
    const tokens = config.TOKEN_CACHE_TTL_MS > 0 ? new TokenCache({ databaseUrl: db.url, ttlMs: config.TOKEN_CACHE_TTL_MS, log, listener }) : undefined;
    const app = makeApp({
      pool,
      log,
      metrics,
      tokens,
      options: {
        publicUrl: config.PUBLIC_URL,
        publicHosts: config.PUBLIC_HOSTS,
        authLimits: { windowMs: config.AUTH_FAILURE_WINDOW_MS, perAddress: config.AUTH_FAILURE_LIMIT_PER_ADDRESS, perOrganization: config.AUTH_FAILURE_LIMIT_PER_ORGANIZATION },
        trustProxyHops: config.TRUST_PROXY_HOPS,
        maxResults: config.SCIM_MAX_RESULTS, defaultCount: config.SCIM_DEFAULT_COUNT, maxPayloadBytes: config.SCIM_MAX_PAYLOAD_BYTES,
        maxPatchOperations: config.SCIM_MAX_PATCH_OPERATIONS,
        orgLimit: { concurrency: config.SCIM_ORG_CONCURRENCY, queue: config.SCIM_ORG_QUEUE, queueTimeoutMs: config.SCIM_ORG_QUEUE_TIMEOUT_MS } },
    });
    const server = makeServer(app, timeoutsOf(config), log);
    try {
      await listen(server, config.PORT, config.HOST);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : config.PORT;
      const endpoint = endpointFor({ ...config, PORT: port });
      log.info({ port, organizations: docs.map((d) => d.spec.organization) }, 'scimsync listening');
      for (const d of docs) {
        err(`scimsync: organization "${d.spec.organization}" at ${endpoint(d.spec.organization)}`);
        err(`  get a bearer token for it with:  ${cliCommand()} token create ${d.spec.organization}`);
      }
      await Promise.all([serve(server, controller.signal, config.SHUTDOWN_TIMEOUT_MS, log), serveMetrics(config, log, controller.signal)]);
    } finally {
      // Also when listening failed (port in use): the reconciler must not outlive start().
      controller.abort();
      await tokens?.close();
      await reconciler.catch(() => {});
      await listener?.close();
    }
    log.info('stopped');
    return failed ? 1 : 0;
  }, controller.signal);
}

async function runReconcilerCommand(command: keyof typeof reconcilerCommands, argv: string[], config: Config, log: Logger): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    return await withDatabase(config, log, async (pool, db) => {
      const store = makeReconcilerStore(pool);
      const openStore = (max: number) => openReconcilerStore(db.url, max);
      const run = reconcilerCommands[command](argv, { pool, store, openStore, config, databaseUrl: db.url, log, out, signal: controller.signal });
      if (command !== 'reconcile' || argv.includes('--once')) return run;
      // A long-running reconciler replica answers health checks and /metrics on PORT.
      const server = makeServer(makeOpsApp({ pool, log, metrics: setupMetrics(config, pool) }), timeoutsOf(config), log);
      await listen(server, config.PORT, config.HOST);
      log.info({ port: config.PORT }, 'reconciler serving /healthz, /readyz and /metrics');
      const metricsServed = serveMetrics(config, log, controller.signal);
      metricsServed.catch(() => controller.abort()); // a METRICS_PORT in use stops the replica
      const code = await run.finally(() => controller.abort());
      await Promise.all([serve(server, controller.signal, config.SHUTDOWN_TIMEOUT_MS, log), metricsServed]);
      return code;
    }, controller.signal);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/**
 * `scimsync operator`: serves /healthz, /readyz (informers synced) and /metrics on PORT.
 * Exit code 1 when the leader Lease was lost (the pod restarts and campaigns again).
 */
async function runOperatorCommand(config: Config, log: Logger): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (!config.PUBLIC_URL) log.warn('PUBLIC_URL is not set: ScimConfig endpoints will name http://localhost');
  try {
    // Loaded here only: @kubernetes/client-node takes 1–5 s to import, which every other command
    // (and the time until `start` handles SIGTERM) would otherwise pay.
    const { startOperator } = await import('./k8s/operator.js');
    return await withDatabase(config, log, async (pool) => {
      registerProcessMetrics('operator');
      const operator = startOperator(
        {
          pool,
          log,
          endpointFor: endpointFor(config),
          watchNamespaces: config.WATCH_NAMESPACES,
          kubeconfig: config.KUBECONFIG,
          identity: config.POD_NAME,
          leaseNamespace: config.POD_NAMESPACE,
          leaseName: config.LEADER_ELECTION_LEASE_NAME,
          leaseDurationMs: config.LEADER_ELECTION_LEASE_DURATION_MS,
          renewDeadlineMs: config.LEADER_ELECTION_RENEW_DEADLINE_MS,
          retryPeriodMs: config.LEADER_ELECTION_RETRY_PERIOD_MS,
          resyncMs: config.OPERATOR_RESYNC_MS,
          watchdogMs: config.OPERATOR_WATCHDOG_MS,
          statusRefreshMs: config.OPERATOR_STATUS_REFRESH_MS,
          secretsDir: config.RECONCILER_SECRETS_DIR,
          targetSecrets: config.TARGET_SECRETS,
        },
        controller.signal,
      );
      const server = makeServer(makeOpsApp({ pool, log, metrics: { onMainPort: true, token: config.METRICS_TOKEN }, readiness: () => (operator.ready() ? undefined : 'informers not synced') }), timeoutsOf(config), log);
      await listen(server, config.PORT, config.HOST);
      const address = server.address();
      log.info({ port: typeof address === 'object' && address ? address.port : config.PORT }, 'operator serving /healthz, /readyz and /metrics');
      const outcome = await operator.done.finally(() => controller.abort());
      if (outcome === 'lost') {
        server.closeAllConnections();
        server.close();
        return 1;
      }
      await serve(server, controller.signal, config.SHUTDOWN_TIMEOUT_MS, log);
      return 0;
    }, controller.signal);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(HELP);
    return command ? 0 : 2;
  }
  let config: Config;
  try {
    config = loadConfig();
    if (command === 'start') checkServeConfig(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return 78; // EX_CONFIG
    }
    throw e;
  }
  const log = makeLogger(config.LOG_LEVEL);
  try {
    switch (command) {
      case 'start':
        return await start(rest, config, log);
      case 'migrate':
        return await withDatabase({ ...config, MIGRATE_ON_START: true }, log, async () => 0);
      case 'token':
        return await withDatabase(config, log, (pool) => tokenCommand(rest, { pool, out, err, endpointFor: endpointFor(config) }));
      case 'audit':
        return await withDatabase(config, log, (pool) => auditCommand(rest, { pool, out, err }));
      case 'org':
        return await withDatabase(config, log, (pool) => orgCommand(rest, { pool, log, out, err }));
      case 'reconcile':
      case 'plan':
      case 'approve':
      case 'events':
        return await runReconcilerCommand(command, rest, config, log);
      case 'operator': {
        const code = await runOperatorCommand(config, log);
        // Losing the Lease ends the process now, whatever is still in flight (client-go: klog.Fatal).
        if (code === 1) setTimeout(() => process.exit(1), 1000).unref();
        return code;
      }
      default:
        err(`unknown command "${command}"\n\n${HELP}`);
        return 2;
    }
  } finally {
    log.flush();
  }
}

// Run when executed directly (`node dist/main.js start`); bin/scimsync.js imports main().
const entry = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Shutdown is bounded (SHUTDOWN_TIMEOUT_MS): should a stray handle (a socket a stuck
      // peer holds open) keep the event loop alive after main() returned, exit anyway.
      setTimeout(() => process.exit(code), 2_000).unref();
    },
    (e: unknown) => {
      err(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
      setTimeout(() => process.exit(1), 2_000).unref();
    },
  );
}
