// Per-process cache of verified bearer tokens, so that a SCIM request does not pay a Postgres
// round trip for its token, while a revocation still holds within milliseconds everywhere.
//
// Invalidation: migration 1796200000000 makes every change that can refuse a token (revoke,
// expiry change, token or organization deleted, organization renamed or soft-deleted) NOTIFY
// `scimsync_tokens` in the same transaction. Each process LISTENs on a dedicated connection
// (store/listen.ts, the reconnecting listener the reconciler uses too) and empties its cache
// on any notification (revocations are rare; clearing all is simplest to get right).
// Fail closed: while that connection is down or not yet listening the cache is bypassed (every
// request checks Postgres, as without a cache), and it is emptied on every loss, because
// notifications sent meanwhile are lost. Bounds: an entry lives at most ttlMs (5 s by
// default) and never past its token's expires_at.
import type { Logger } from 'pino';
import { listen } from './listen.js';

/** A token that authenticated: which token, and the organization it opens. */
export interface AuthenticatedToken {
  tokenId: string;
  organizationId: string;
  organization: string;
}

export const TOKEN_CHANNEL = 'scimsync_tokens';

interface Entry {
  token: AuthenticatedToken;
  /** Date.now() after which the entry must not be used (ms). */
  until: number;
}

export interface TokenCacheOptions {
  databaseUrl: string;
  /** Longest life of an entry (ms). */
  ttlMs: number;
  log: Logger;
  /** First reconnection delay (ms, doubling with jitter up to maxRetryMs): the cache is off meanwhile. */
  retryMs?: number;
  maxRetryMs?: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation and every change of the listening state. */
  private generation = 0;
  private listening = false;
  private readonly controller = new AbortController();
  private readonly listener: Promise<void>;

  constructor(private readonly opts: TokenCacheOptions) {
    this.listener = listen({
      url: opts.databaseUrl,
      channel: TOKEN_CHANNEL,
      applicationName: 'scimsync-token-listen',
      log: opts.log,
      signal: this.controller.signal,
      baseDelayMs: opts.retryMs ?? 100,
      maxDelayMs: opts.maxRetryMs ?? 5_000,
      onNotify: () => this.invalidate(),
      onConnected: () => {
        this.invalidate();
        this.listening = true;
      },
      onLost: () => {
        this.listening = false;
        this.invalidate();
      },
    });
  }

  /** True while notifications are being received, i.e. while entries may be used. */
  get active(): boolean {
    return this.listening;
  }

  /** The entry for a token hash (hex) if it may be used now; undefined otherwise. */
  get(hash: string, now = Date.now()): AuthenticatedToken | undefined {
    if (!this.listening) return undefined;
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (now >= e.until) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.token;
  }

  /** A ticket to take before the database check and hand to put(): see put. */
  ticket(): number {
    return this.listening ? this.generation : -1;
  }

  /**
   * Stores a verified token. expiresInMs: time left before the token's expires_at, measured
   * by Postgres; startedAt: Date.now() taken before the query, so `until` errs early.
   * Dropped when anything was invalidated since the ticket was taken (the row read may
   * predate a revocation whose notification has already been handled).
   */
  put(ticket: number, hash: string, token: AuthenticatedToken, startedAt: number, expiresInMs: number | null): void {
    if (ticket < 0 || ticket !== this.generation || !this.listening) return;
    const until = Math.min(startedAt + this.opts.ttlMs, expiresInMs === null ? Infinity : startedAt + expiresInMs);
    if (until > Date.now()) this.entries.set(hash, { token, until });
  }

  private invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Stops listening and empties the cache. */
  async close(): Promise<void> {
    this.listening = false;
    this.invalidate();
    this.controller.abort();
    await this.listener;
  }
}
