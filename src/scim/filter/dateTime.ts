// xsd:dateTime values (RFC 7643 §2.3.5) in filters. Both the SQL translation and the
// in-memory evaluator compare them as instants, so they must agree on what a value means:
// a value without an offset is taken as UTC (xsd leaves it "unspecified"; Postgres would
// otherwise use the session time zone), a bare date is midnight UTC.

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

export interface Instant {
  /** Milliseconds since the epoch. */
  ms: number;
  /** Nanoseconds below the millisecond (0–999999): timestamptz keeps microseconds. */
  ns: number;
}

interface Parts {
  date: string;
  time: string;
  frac: string;
  offset: string;
  instant: Instant;
}

function offsetMinutes(offset: string): number | undefined {
  if (offset === 'Z') return 0;
  const [h, m] = [Number(offset.slice(1, 3)), Number(offset.slice(-2))];
  if (h > 15 || m > 59) return undefined;
  return (offset[0] === '-' ? -1 : 1) * (h * 60 + m);
}

function parseParts(raw: string): Parts | undefined {
  const m = DATE_TIME.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = ''] = m;
  let offset = (m[8] ?? 'Z').toUpperCase();
  if (offset !== 'Z') offset = `${offset.slice(0, 3)}:${offset.length > 3 ? offset.slice(-2) : '00'}`;
  const minutes = offsetMinutes(offset);
  if (minutes === undefined) return undefined;
  // Year 0000 is not a year Postgres accepts (22008); setUTCFullYear, unlike Date.UTC, does not
  // read years 1–99 as 1901–1999.
  if (Number(y) < 1) return undefined;
  const check = new Date(0);
  check.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  check.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const local = check.getTime();
  // Reject 2015-02-31 or 25:00: Date rolls them over, Postgres would raise 22008.
  // Month 00 and 13 roll over too (to the year before or after), so the year and month are checked.
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h) || check.getUTCMinutes() !== Number(mi)
    || check.getUTCSeconds() !== Number(s)) return undefined;
  const padded = frac.padEnd(9, '0');
  const instant = { ms: local - minutes * 60_000 + Number(padded.slice(0, 3)), ns: Number(padded.slice(3)) };
  return { date: `${y}-${mo}-${d}`, time: `${h}:${mi}:${s}`, frac, offset, instant };
}

/** The instant a dateTime string denotes, or undefined when it is not an xsd:dateTime. */
export function parseInstant(raw: string): Instant | undefined {
  return parseParts(raw)?.instant;
}

/**
 * The value rewritten with an explicit offset and its full fraction, safe to cast to
 * timestamptz; undefined when it is not a valid xsd:dateTime.
 */
export function normalizeDateTime(raw: string): string | undefined {
  const p = parseParts(raw);
  if (!p) return undefined;
  return `${p.date}T${p.time}${p.frac ? `.${p.frac}` : ''}${p.offset}`;
}

export function compareInstants(a: Instant, b: Instant): number {
  return a.ms !== b.ms ? Math.sign(a.ms - b.ms) : Math.sign(a.ns - b.ns);
}
