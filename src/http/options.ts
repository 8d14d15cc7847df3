// Settings the SCIM routers share, in a module of their own so that routers and the app that
// mounts them do not import each other (test/imports.test.ts checks the graph has no cycles).
import type { AuthLimits } from './authLimiter.js';
import type { OrgLimitOptions } from './orgLimit.js';

/** What the app and its routers need from the configuration (main.ts maps config.ts's fields onto it). */
export interface HttpOptions {
  publicUrl?: string;
  /** Hosts accepted from the Host header for links when publicUrl is unset (PUBLIC_HOSTS). */
  publicHosts?: string[];
  /** Failed-authentication limits; unset: none (tests of other behaviour). */
  authLimits?: AuthLimits;
  /** Proxy hops trusted for X-Forwarded-For (express "trust proxy"). */
  trustProxyHops?: number;
  maxResults: number;
  defaultCount: number;
  maxPayloadBytes: number;
  /** SCIM_MAX_PATCH_OPERATIONS; DEFAULT_MAX_PATCH_OPERATIONS when unset. */
  maxPatchOperations?: number;
  /** Per-organization concurrency limit (SCIM_ORG_*); none when unset. */
  orgLimit?: OrgLimitOptions;
}
