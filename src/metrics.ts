// Every Prometheus metric scimsync exports, in one registry, with help text.
// docs/metrics.md describes them for operators.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

// ---- SCIM ingress ---------------------------------------------------------------------

export const scimRequestsTotal = new Counter({
  name: 'scimsync_scim_requests_total',
  help: 'SCIM requests answered, by HTTP method, resource (Users, Groups, ServiceProviderConfig, …) and status code.',
  labelNames: ['method', 'resource', 'code'] as const,
  registers: [registry],
});

export const scimRequestDuration = new Histogram({
  name: 'scimsync_scim_request_duration_seconds',
  help: 'Time to answer a SCIM request, from receipt to the last byte written.',
  labelNames: ['method', 'resource'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

// ---- Reconciler -------------------------------------------------------------------------
// (issue 3 adds its metrics below)
