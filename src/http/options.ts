// Settings the SCIM routers share, in a module of their own so that routers and the app that
// mounts them do not import each other (test/imports.test.ts checks the graph has no cycles).

/** What the routers need from the configuration (main.ts maps config.ts's fields onto it). */
export interface HttpOptions {
  /** Base URL clients reach us at (meta.location, $ref); else derived from the request. */
  publicUrl?: string;
  /** Largest `count` a list request gets (RFC 7644 §3.4.2.4; ServiceProviderConfig filter.maxResults). */
  maxResults: number;
  /** `count` of a list request that gives none. */
  defaultCount: number;
  /** Largest request body in bytes (ServiceProviderConfig bulk.maxPayloadSize; 413 beyond). */
  maxPayloadBytes: number;
}
