// Limits failed bearer-token authentication per client address and per organization, so a
// token-guessing client costs neither a database query per guess nor the tenants' IdPs their
// access. Tokens carry 256 random bits (src/store/tokens.ts), so guessing cannot succeed; what
// this bounds is the load and the noise. Counters are per process (each replica limits on its
// own): docs/security.md, "Failed authentication".

export interface AuthLimits {
  /** Length of the fixed counting window (ms). */
  windowMs: number;
  /** Failed attempts one client address may make per window before every request from it is refused; 0: no limit. */
  perAddress: number;
  /** Failed attempts against one organization per window after which addresses that have failed are refused; 0: no limit. */
  perOrganization: number;
}

interface Window {
  start: number;
  failures: number;
}

/** Most keys remembered per kind; beyond it the oldest window is forgotten (bounded memory under address spraying). */
const MAX_KEYS = 100_000;

class Counter {
  private readonly windows = new Map<string, Window>();
  constructor(private readonly windowMs: number) {}

  private current(key: string, now: number): Window | undefined {
    const w = this.windows.get(key);
    if (w && now - w.start >= this.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  failures(key: string, now: number): number {
    return this.current(key, now)?.failures ?? 0;
  }

  /** Milliseconds until the key's window ends (0 without one). */
  remainingMs(key: string, now: number): number {
    const w = this.current(key, now);
    return w ? w.start + this.windowMs - now : 0;
  }

  add(key: string, now: number): void {
    const w = this.current(key, now);
    if (w) {
      w.failures++;
      return;
    }
    if (this.windows.size >= MAX_KEYS) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(key, { start: now, failures: 1 });
  }
}

export interface Refusal {
  /** Whole seconds until the client may try again (Retry-After, RFC 9110 §10.2.3). */
  retryAfterSeconds: number;
  scope: 'address' | 'organization';
}

export class AuthFailureLimiter {
  private readonly byAddress: Counter;
  private readonly byOrganization: Counter;

  constructor(
    private readonly limits: AuthLimits,
    private readonly clock: () => number = Date.now,
  ) {
    this.byAddress = new Counter(limits.windowMs);
    this.byOrganization = new Counter(limits.windowMs);
  }

  /**
   * Whether a request from `address` to `organization` is refused before its token is looked
   * up. An address over its limit is refused outright. An organization over its limit refuses
   * only addresses that have themselves failed in the window: a spread-out guesser gets one
   * attempt per address per window, while the tenant's IdP, whose token is valid and so never
   * fails, keeps working (an organization-wide lockout would hand any attacker who knows the
   * organization's name a way to cut its provisioning off).
   */
  check(address: string, organization: string): Refusal | undefined {
    const now = this.clock();
    const { perAddress, perOrganization } = this.limits;
    if (perAddress > 0 && this.byAddress.failures(address, now) >= perAddress) {
      return { scope: 'address', retryAfterSeconds: Math.max(1, Math.ceil(this.byAddress.remainingMs(address, now) / 1000)) };
    }
    if (perOrganization > 0 && this.byOrganization.failures(organization, now) >= perOrganization && this.byAddress.failures(address, now) > 0) {
      const ms = Math.max(this.byOrganization.remainingMs(organization, now), this.byAddress.remainingMs(address, now));
      return { scope: 'organization', retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
    }
    return undefined;
  }

  /** Counts one failed authentication (missing, malformed, unknown, revoked or expired token). */
  fail(address: string, organization: string): void {
    const now = this.clock();
    this.byAddress.add(address, now);
    this.byOrganization.add(organization, now);
  }
}
