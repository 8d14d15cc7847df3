// The HTTP application: SCIM under /scim/v2/{organization}/, health checks and /metrics.
import { randomUUID } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { accessLogOf } from '../log.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { registry, renderMetrics, scimRequestDuration, scimRequestsTotal } from '../metrics.js';
import type { Pool } from '../store/pool.js';
import type { TokenCache } from '../store/tokenCache.js';
import { pendingMigrations } from '../store/migrate.js';
import { bearerAuth } from './auth.js';
import type { AuthLimits } from './authLimiter.js';
import { publicRoot } from './publicUrl.js';
import { discoveryRouter } from './discovery.js';
import { errorMiddleware, noOrganizationRoute, notFoundRoute } from './errors.js';
import { groupsRouter } from './groups.js';
import type { HttpOptions } from './options.js';
import { usersRouter } from './users.js';
import { checkJsonBody, checkQuery } from '../scim/inputText.js';
import { orgConcurrencyLimit, type OrgLimitOptions } from './orgLimit.js';

export type { HttpOptions } from './options.js';

/** Where and how /metrics is served (METRICS_PORT, METRICS_TOKEN). */
export interface MetricsOptions {
  /** False: /metrics is served by makeMetricsApp on its own port, not here. */
  onMainPort: boolean;
  /** When set, /metrics answers only "Authorization: Bearer <token>". */
  token?: string;
}

export interface AppDeps {
  pool: Pool;
  log: Logger;
  options: HttpOptions;
  metrics?: MetricsOptions;
  /** Verified-token cache; absent: every request checks its token in Postgres. */
  tokens?: TokenCache;
}

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

const RESOURCES = new Set(['Users', 'Groups', 'ServiceProviderConfig', 'serviceConfiguration', 'ResourceTypes', 'Schemas', '.search', 'Bulk', 'Me']);

/** Metric label for a SCIM path: a fixed set, so unknown paths cannot explode cardinality. */
function resourceLabel(path: string): string {
  const seg = path.split('/')[4] ?? '';
  return RESOURCES.has(seg) ? seg : 'other';
}

function requestContext(log: Logger): RequestHandler {
  const access = accessLogOf(log);
  return (req, res, next) => {
    const given = req.get('x-request-id');
    req.id = given && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    req.log = log.child({ reqId: req.id });
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // Paths only: query strings carry filters with email addresses. originalUrl, because
      // routers rewrite req.url/req.path to their mount point.
      const path = req.originalUrl.split('?')[0]!;
      access.info({ reqId: req.id, method: req.method, path, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 }, 'request');
      if (path.startsWith('/scim/')) {
        const resource = resourceLabel(path);
        scimRequestsTotal.inc({ method: req.method, resource, code: String(res.statusCode) });
        scimRequestDuration.observe({ method: req.method, resource }, seconds);
      }
    });
    next();
  };
}

/**
 * A process-specific readiness check beside the database's (the operator: informers synced).
 * Returns undefined when ready, else what is missing.
 */
export type ReadinessCheck = () => string | undefined;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** GET /metrics, behind the bearer token when one is configured (compared in constant time). */
function metricsRoute(token: string | undefined): RequestHandler {
  const expected = token ? digest(token) : undefined;
  return async (req, res) => {
    if (expected) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
      if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="scimsync-metrics"');
        res.status(401).type('text/plain').send('metrics need "Authorization: Bearer <METRICS_TOKEN>"\n');
        return;
      }
    }
    try {
      res.type(registry.contentType).send(await renderMetrics());
    } catch (err) {
      req.log.warn({ err }, 'metrics could not be collected');
      res.status(503).type('text/plain').send('metrics unavailable: database unreachable\n');
    }
  };
}

/** /metrics alone, for METRICS_PORT. */
export function makeMetricsApp({ log, token }: { log: Logger; token?: string }): express.Express {
  const app = baseApp(log);
  app.get('/metrics', metricsRoute(token));
  return app;
}

/** Health checks and /metrics: every process serves these, the ingress and a lone reconciler. */
function mountOps(app: express.Express, pool: Pool, metrics: MetricsOptions = { onMainPort: true }, readiness?: ReadinessCheck): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (req, res) => {
    const missing = readiness?.();
    if (missing) {
      res.status(503).json({ status: missing });
      return;
    }
    try {
      const pending = await pendingMigrations(pool);
      if (pending.length) {
        res.status(503).json({ status: 'migrations pending', pending });
        return;
      }
      res.json({ status: 'ready' });
    } catch (err) {
      req.log.warn({ err }, 'readiness check failed');
      res.status(503).json({ status: 'database unreachable' });
    }
  });
  if (metrics.onMainPort) app.get('/metrics', metricsRoute(metrics.token));
}

function baseApp(log: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestContext(log));
  return app;
}

/** What `scimsync reconcile` and `scimsync operator` serve: /healthz, /readyz and /metrics only. */
export function makeOpsApp({ pool, log, metrics, readiness }: Pick<AppDeps, 'pool' | 'log' | 'metrics'> & { readiness?: ReadinessCheck }): express.Express {
  const app = baseApp(log);
  mountOps(app, pool, metrics, readiness);
  return app;
}

export function makeApp({ pool, log, options, metrics, tokens }: AppDeps): express.Express {
  const app = baseApp(log);
  mountOps(app, pool, metrics);

  const scim = express.Router({ mergeParams: true });
  // Authenticate before reading a body. Lenient input: Okta sends application/json, others
  // application/scim+json; parse any body as JSON (RFC 7644 §3.1: bodies are JSON).
  if (options.trustProxyHops) app.set('trust proxy', options.trustProxyHops);
  scim.use(bearerAuth(pool, options.authLimits, tokens));
  scim.use(publicRoot(options));
  if (options.orgLimit) scim.use(orgConcurrencyLimit(options.orgLimit));
  scim.use(express.json({ type: () => true, limit: options.maxPayloadBytes, strict: false }));
  // Text Postgres cannot store and bodies nested deep enough to overflow a recursive walk: 400.
  scim.use((req, _res, next) => {
    checkQuery(req.query as Record<string, unknown>);
    checkJsonBody(req.body);
    next();
  });
  scim.use('/Users', usersRouter(pool, options));
  scim.use('/Groups', groupsRouter(pool, options));
  scim.use('/', discoveryRouter(pool, options));
  scim.use(notFoundRoute);
  app.use('/scim/v2/:org', scim);
  // /scim, /scim/v2 and anything else under /scim that names no organization: still a SCIM
  // client talking, so a SCIM 404 rather than express's HTML page.
  app.use('/scim', noOrganizationRoute);
  app.use(errorMiddleware);
  return app;
}
