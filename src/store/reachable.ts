// The first contact with an external database (DATABASE_URL): one connection, and on failure
// one line that names DATABASE_URL, where it points (never its password) and the cause.
import pg from 'pg';

/** DATABASE_URL could not be used at start; message is the whole line the CLI prints. */
export class DatabaseUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnreachableError';
  }
}

/** "127.0.0.1:5432/app": the URL without scheme, user or password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'an unparsable URL';
  }
}

/** The cause in words, from a Node socket error code or a PostgreSQL SQLSTATE. */
function causeOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  switch (e.code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'host name not found';
    case 'ETIMEDOUT': case 'EHOSTUNREACH': case 'ENETUNREACH': return 'host not reachable';
    case '28P01': return 'password authentication failed';
    default: return (e.message ?? String(err)).split('\n')[0]!;
  }
}

/**
 * Connects once to url and disconnects. Throws DatabaseUnreachableError, e.g. "cannot connect
 * to the database at DATABASE_URL (127.0.0.1:1): connection refused — check that PostgreSQL is
 * running and DATABASE_URL is right". timeoutMs bounds the connection attempt.
 */
export async function checkDatabaseReachable(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new DatabaseUnreachableError(
      `cannot connect to the database at DATABASE_URL (${describeDatabaseUrl(url)}): ${causeOf(err)} — check that PostgreSQL is running and DATABASE_URL is right`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}
