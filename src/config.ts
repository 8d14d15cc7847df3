// The one place that reads process.env. Every setting is declared here with its default;
// an invalid environment stops the process at start, listing every problem at once.
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const configSchema = z.object({
  /** Postgres connection string. Unset: an embedded PostgreSQL is started under DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  /** Where the embedded PostgreSQL keeps its data. */
  DATA_DIR: z.string().min(1).default('./.data'),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** The main port: SCIM, /healthz, /readyz and /metrics. */
  PORT: port.default(8080),
  /** Serve /metrics on this port instead of PORT (0 or unset: on PORT). */
  METRICS_PORT: port.optional(),
  /** When set, /metrics requires "Authorization: Bearer <METRICS_TOKEN>". */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** Per-organization label values on metrics; false collapses them to "" (docs/metrics.md). */
  METRICS_ORGANIZATION_LABELS: bool.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Base URL clients reach us at, for Location and meta.location. Unset: a Host header on
   * PUBLIC_HOSTS, else the address the connection reached — never an arbitrary Host header.
   * Required (or PUBLIC_HOSTS) when NODE_ENV=production.
   */
  PUBLIC_URL: z.string().url().optional(),
  /** Comma-separated host[:port] values accepted from the Host header for links when PUBLIC_URL is unset. */
  PUBLIC_HOSTS: z
    .string()
    .optional()
    .transform((v) => (v ? v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean) : undefined)),
  /** "production" makes PUBLIC_URL or PUBLIC_HOSTS mandatory for `scimsync start`. */
  NODE_ENV: z.string().optional(),
  /** Failed-authentication limits (docs/security.md): counting window, failures per client address, per organization; 0 disables a limit. */
  AUTH_FAILURE_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  AUTH_FAILURE_LIMIT_PER_ADDRESS: z.coerce.number().int().min(0).default(30),
  AUTH_FAILURE_LIMIT_PER_ORGANIZATION: z.coerce.number().int().min(0).default(300),
  /** Proxy hops whose X-Forwarded-For is trusted for the client address (express "trust proxy"); 0: the socket's peer. */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).default(0),
  /** Largest accepted request body (bytes); bigger ones get 413. Advertised in ServiceProviderConfig. */
  SCIM_MAX_PAYLOAD_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  /** Largest page a list request may ask for (count); advertised as filter.maxResults. */
  SCIM_MAX_RESULTS: z.coerce.number().int().positive().default(1000),
  /** Most operations one PATCH request may carry; more is a 413 naming the limit (docs/scim.md). */
  SCIM_MAX_PATCH_OPERATIONS: z.coerce.number().int().positive().default(1000),
  /** SCIM requests of one organization in progress at once; more wait (SCIM_ORG_QUEUE) or get 429. */
  SCIM_ORG_CONCURRENCY: z.coerce.number().int().positive().default(8),
  /** Requests of one organization that may wait for a slot; beyond it 429 with Retry-After. */
  SCIM_ORG_QUEUE: z.coerce.number().int().min(0).default(64),
  /** Longest a request waits for its organization's slot before a 429. */
  SCIM_ORG_QUEUE_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  /** Page size when the client gives no count. */
  SCIM_DEFAULT_COUNT: z.coerce.number().int().positive().default(100),
  /**
   * Longest a client may take to send a whole request, headers and body (node:http
   * requestTimeout): a slow or stalled upload is answered 408 and closed instead of holding a
   * connection (Node's default is 300 s). 8 MiB at 1 Mbit/s takes 70 s; raise it for such links.
   */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Longest a client may take to send the request headers (node:http headersTimeout). */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * How long an idle keep-alive connection stays open. Above the 60 s idle timeout of common
   * load balancers (AWS ALB, nginx's 75 s is the exception), so they, not we, close it first.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(65_000),
  /** How long SIGTERM waits for in-flight requests before closing connections. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * Longest life (ms) of a verified token in a process's cache; revocations reach every
   * process at once through NOTIFY, this bounds a missed one. 0: check every request in Postgres.
   */
  TOKEN_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  DATABASE_POOL_SIZE: z.coerce.number().int().positive().default(16),
  /**
   * Apply pending migrations when a command starts. false: wait until another process applied
   * them (the Helm chart sets false and runs `scimsync migrate` as a hook Job).
   */
  MIGRATE_ON_START: bool.default(true),
  /**
   * Longest a request waits for a database connection (a new one connecting, or a free one
   * of the pool) before it is answered 503 + Retry-After: the database down must not hang requests.
   */
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** Run the reconciler inside `scimsync start` (set false to run ingress-only replicas). */
  RECONCILER_ENABLED: bool.default(true),
  /** Identifies this reconciler in reconcile_queue.locked_by and events; host:pid when unset. */
  RECONCILER_WORKER_ID: z.string().min(1).optional(),
  /** Per-user items processed at once by one process. */
  RECONCILER_CONCURRENCY: z.coerce.number().int().positive().default(8),
  /** Organization passes (full resyncs) run at once by one process. */
  RECONCILER_RESYNC_CONCURRENCY: z.coerce.number().int().positive().default(2),
  /** Target calls in flight within one organization pass. */
  RECONCILER_APPLY_CONCURRENCY: z.coerce.number().int().positive().default(8),
  /** Poll interval for due items when no NOTIFY arrives (retries, resyncs, a lost listener). */
  RECONCILER_POLL_MS: z.coerce.number().int().positive().default(1000),
  /** A claimed item whose worker stopped heart-beating for this long is claimed again. */
  RECONCILER_LEASE_MS: z.coerce.number().int().positive().default(30_000),
  /** Backoff of a failed item: base × 2^(attempts−1) with jitter, capped at max. */
  RECONCILER_RETRY_BASE_MS: z.coerce.number().int().positive().default(1000),
  RECONCILER_RETRY_MAX_MS: z.coerce.number().int().positive().default(300_000),
  /** From this many failed attempts on, an item is reported as failing (error log, metric). */
  RECONCILER_FAILING_AFTER: z.coerce.number().int().positive().default(5),
  /** Rows per page when streaming the desired state of an organization. */
  RECONCILER_PAGE_SIZE: z.coerce.number().int().positive().default(1000),
  /** Audit-trail entries older than this are deleted by the reconciler's housekeeping (every 10 min). */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().positive().default(365),
  RECONCILER_EVENTS_RETENTION_DAYS: z.coerce.number().int().positive().default(30),
  /** Where Kubernetes Secrets named by tokenSecretRef / urlSecretRef are mounted (<dir>/<name>/<key>). */
  RECONCILER_SECRETS_DIR: z.string().min(1).default('/var/run/secrets/scimsync'),
  /**
   * Where target credentials named by tokenSecretRef / urlSecretRef come from: files mounted
   * under RECONCILER_SECRETS_DIR, or the Kubernetes API (a Secret in the ScimConfig's namespace,
   * watched, so a rotated credential is used on the next call; never copied into Postgres).
   */
  TARGET_SECRETS: z.enum(['files', 'kubernetes']).default('files'),
  // ---- operator (`scimsync operator`, issue 8) ----
  /** Comma-separated namespaces whose ScimConfigs the operator watches; all namespaces when unset. */
  WATCH_NAMESPACES: z
    .string()
    .transform((v) => v.split(',').map((n) => n.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'each namespace must be a DNS label')))
    .optional(),
  /** Lease timings (controller-runtime defaults 15s / 10s / 2s); see leaseTimings below. */
  LEADER_ELECTION_LEASE_DURATION_MS: z.coerce.number().int().positive().default(15_000),
  LEADER_ELECTION_RENEW_DEADLINE_MS: z.coerce.number().int().positive().default(10_000),
  LEADER_ELECTION_RETRY_PERIOD_MS: z.coerce.number().int().positive().default(2_000),
  /** The Lease's name; it lives in POD_NAMESPACE. */
  LEADER_ELECTION_LEASE_NAME: z.string().min(1).default('scimsync-operator'),
  /** This replica's identity (the Lease holder) and the Lease's namespace (downward API). */
  POD_NAME: z.string().min(1).optional(),
  POD_NAMESPACE: z.string().min(1).default('default'),
  /** kubeconfig file; unset: the in-cluster service account (or ~/.kube/config outside a cluster). */
  KUBECONFIG: z.string().min(1).optional(),
  /** Every cached ScimConfig is reconciled again this often (client-go's resync period). */
  OPERATOR_RESYNC_MS: z.coerce.number().int().positive().default(300_000),
  /** A watch that delivered nothing (no event, no bookmark) for this long is re-established. */
  OPERATOR_WATCHDOG_MS: z.coerce.number().int().positive().default(120_000),
  /** Status counts (users, drift, held revocations) are refreshed from Postgres at least this often. */
  OPERATOR_STATUS_REFRESH_MS: z.coerce.number().int().positive().default(30_000),
}).superRefine((c, ctx) => {
  // client-go's leaderelection.NewLeaderElector refuses the same configurations.
  if (c.LEADER_ELECTION_LEASE_DURATION_MS <= c.LEADER_ELECTION_RENEW_DEADLINE_MS) {
    ctx.addIssue({ code: 'custom', path: ['LEADER_ELECTION_LEASE_DURATION_MS'], message: 'must be greater than LEADER_ELECTION_RENEW_DEADLINE_MS' });
  }
  if (c.LEADER_ELECTION_RENEW_DEADLINE_MS <= 1.2 * c.LEADER_ELECTION_RETRY_PERIOD_MS) {
    ctx.addIssue({ code: 'custom', path: ['LEADER_ELECTION_RENEW_DEADLINE_MS'], message: 'must be greater than 1.2 × LEADER_ELECTION_RETRY_PERIOD_MS' });
  }
});

export type Config = z.infer<typeof configSchema>;

/**
 * Settings `scimsync start` needs beyond the schema: in production, links must not depend on
 * the request (src/http/publicUrl.ts). Throws ConfigError.
 */
export function checkServeConfig(config: Config): void {
  if (config.NODE_ENV === 'production' && !config.PUBLIC_URL && !config.PUBLIC_HOSTS?.length) {
    throw new ConfigError(['PUBLIC_URL: required when NODE_ENV=production (or set PUBLIC_HOSTS, the host names clients may use)']);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[key];
    input[key] = v === '' ? undefined : v;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return parsed.data;
}

/**
 * Reads one variable named at run time by a ScimConfig (spec.target.http.tokenEnv,
 * spec.target.postgres.connection.urlEnv), so this stays the only file touching process.env.
 */
export function readEnvSecret(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[name];
  return v === '' ? undefined : v;
}
