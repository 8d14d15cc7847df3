// The database a command uses: DATABASE_URL, or the embedded PostgreSQL under DATA_DIR
// (started here, or joined when another scimsync process already runs it).
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { startEmbeddedPostgres } from '../store/embedded.js';
import { checkDatabaseReachable } from '../store/reachable.js';

export interface Database {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.DATABASE_URL) {
    // Fail here with one line naming DATABASE_URL, not later with a bare "connect ECONNREFUSED".
    await checkDatabaseReachable(config.DATABASE_URL, config.DATABASE_CONNECT_TIMEOUT_MS);
    return { url: config.DATABASE_URL, embedded: false, stop: async () => {} };
  }
  const db = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, log });
  return { url: db.url, embedded: true, stop: db.stop };
}
