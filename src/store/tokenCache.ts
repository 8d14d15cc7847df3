// Per-process cache of verified bearer tokens, so that a SCIM request does not pay a Postgres
// round trip for its token, while a revocation still holds within milliseconds everywhere.
//
// Invalidation: migration 1796200000000 makes every change that can refuse a token (revoke,
// expiry change, token or organization deleted, organization renamed) NOTIFY `scimsync_tokens`
// in the same transaction. Each process LISTENs on a dedicated connection and empties its
// cache on any notification (revocations are rare; clearing all is simplest to get right).
// Fail closed: while that connection is down or not yet listening the cache is bypassed (every
// request checks Postgres, as without a cache), and emptied, because notifications may have
// been missed. Bounds: an entry lives at most ttlMs (5 s by default) and never past its
// token's expires_at.
import pg from 'pg';
import type { Logger } from 'pino';
import type { AuthenticatedToken } from './tokens.js';

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
  log: Pick<Logger, 'warn' | 'info'>;
  /** First reconnect delay (ms); doubles per failure up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation and every change of the listening state. */
  private generation = 0;
  private listening = false;
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: TokenCacheOptions) {
    this.retryMs = opts.retryMs ?? 100;
    void this.connect();
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

  private async connect(): Promise<void> {
    if (this.closed) return;
    const c = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: 'scimsync-token-listen', keepAlive: true });
    this.client = c;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      this.listening = false;
      this.invalidate();
      c.removeAllListeners();
      c.on('error', () => {});
      c.end().catch(() => {});
      if (this.closed) return;
      this.opts.log.warn({ err: err?.message, retryMs: this.retryMs }, 'token cache: notification connection lost; checking tokens in the database until it is back');
      this.timer = setTimeout(() => void this.connect(), this.retryMs * (0.5 + Math.random() / 2));
      this.timer.unref();
      this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs ?? 5_000);
    };
    c.on('error', onLost);
    c.on('end', () => onLost());
    c.on('notification', () => this.invalidate());
    try {
      await c.connect();
      await c.query(`listen ${TOKEN_CHANNEL}`);
      if (lost || this.closed) return;
      this.retryMs = this.opts.retryMs ?? 100;
      this.invalidate();
      this.listening = true;
    } catch (err) {
      onLost(err as Error);
    }
  }

  /** Stops listening and empties the cache; resolves when the connection is closed. */
  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    this.invalidate();
    clearTimeout(this.timer);
    const c = this.client;
    if (!c) return;
    c.removeAllListeners();
    c.on('error', () => {});
    await c.end().catch(() => {});
  }
}
