// Types shared by the ScimConfig reconcile (reconcile.ts) and its deletion path (finalize.ts),
// in a module of their own so the two do not import each other (test/imports.test.ts).
import type { Logger } from 'pino';
import type { Pool } from '../store/pool.js';
import type { KubeClients } from './client.js';
import type { EventRecorder } from './events.js';

export interface ReconcileDeps {
  clients: KubeClients;
  pool: Pool;
  log: Logger;
  events: EventRecorder;
  /** The SCIM base URL of an organization (PUBLIC_URL/scim/v2/<org>). */
  endpointFor: (organization: string) => string;
  statusRefreshMs: number;
}

export type ReconcileResult = 'success' | 'requeue' | 'conflict' | 'invalid' | 'deleted';

export interface ReconcileOutcome {
  result: ReconcileResult;
  requeueAfter?: number;
}
