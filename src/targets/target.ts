// The connector interface between the reconciler and an application's memberships.
// Every method is idempotent: the reconciler may repeat any call after a crash or a retry.

/** A member as the target reports it. Emails are lowercased by the connector. */
export interface ActualMember {
  email: string;
  role: string;
  teams: string[];
}

/** What the reconciler wants the target to hold for one member (grant and update). */
export interface MemberSpec extends ActualMember {
  displayName: string | null;
  externalId: string | null;
}

/** Per-call context: the key identifies one logical operation across HTTP retries. */
export interface WriteOptions {
  idempotencyKey: string;
  signal?: AbortSignal;
}

export interface Target {
  /** For metrics and logs: "http", "postgres". */
  readonly kind: string;
  /** False when the target stores no teams: the diff then ignores teams. */
  readonly supportsTeams: boolean;
  /**
   * Pages of members in ascending email order (compareEmails), so the reconciler can
   * merge-join them with the desired state without holding either side in memory.
   */
  list(signal?: AbortSignal): AsyncIterable<ActualMember[]>;
  /** One member, for per-user passes (keeps event-driven latency independent of org size). */
  get(email: string, signal?: AbortSignal): Promise<ActualMember | undefined>;
  grant(member: MemberSpec, opts: WriteOptions): Promise<void>;
  update(member: MemberSpec, opts: WriteOptions): Promise<void>;
  /** Removing an absent member succeeds. */
  revoke(email: string, opts: WriteOptions): Promise<void>;
  close(): Promise<void>;
}

/** The target rejected the operation in a way retrying cannot fix (HTTP 4xx other than 404/408/429…). */
export class TargetRejectedError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'TargetRejectedError';
  }
}

/**
 * Ascending Unicode code point order, i.e. the byte order of UTF-8 (Postgres collate "C").
 * JavaScript's `<` compares UTF-16 code units, which differs for characters above U+FFFF.
 */
export function compareEmails(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (U+D800–DFFF) encode code points above U+FFFF: they sort after U+E000–FFFF.
      const fx = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x;
      const fy = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y;
      return fx - fy;
    }
  }
  return a.length - b.length;
}

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** Sorted, de-duplicated team list: the form the diff compares. */
export const normalizeTeams = (teams: readonly string[] | null | undefined): string[] =>
  [...new Set(teams ?? [])].sort(compareEmails);

/** The target asked us to come back later (Retry-After beyond what a worker waits in-process). */
export class TargetRetryLaterError extends Error {
  constructor(message: string, readonly delayMs: number) {
    super(message);
    this.name = 'TargetRetryLaterError';
  }
}
