// Root pino logger. Secrets never reach the log: the Authorization header, tokens and
// passwords are redacted wherever they appear in a logged object.
import { pino, type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'databaseUrl',
  '*.databaseUrl',
];

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

/** Replaces email addresses in free text with "<email>". */
export const scrubEmails = (text: string): string => text.replace(EMAIL, '<email>');

/**
 * Errors are serialised as pino does, then email addresses in their message and stack are
 * replaced: target errors name the member's URL (…/members/a@example.com), and an error is
 * logged at warn or error, where no personal data belongs. Fields logged on purpose at debug
 * (`email`) are not touched.
 */
function errSerializer(err: unknown): unknown {
  const s = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (!s || typeof s !== 'object') return s;
  const out: Record<string, unknown> = { ...s };
  for (const k of ['message', 'stack'] as const) if (typeof out[k] === 'string') out[k] = scrubEmails(out[k] as string);
  return out;
}

export function makeLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'scimsync' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: errSerializer },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

export type { Logger };
