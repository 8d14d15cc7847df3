// A standalone entry for the reconciler (tests and benchmarks spawn it; `scimsync reconcile`
// in main.ts does the same through reconcilerCommands):
//   node dist/reconciler/processMain.js [reconcile [--once] | plan <org> | approve <org> | events <org>]
import { loadConfig } from '../config.js';
import { makeLogger } from '../log.js';
import { makePool } from '../store/pool.js';
import { reconcilerCommands } from './commands.js';

const config = loadConfig();
const log = makeLogger(config.LOG_LEVEL);
if (!config.DATABASE_URL) {
  log.fatal('DATABASE_URL is required');
  process.exit(2);
}
const [name = 'reconcile', ...args] = process.argv.slice(2);
const command = reconcilerCommands[name as keyof typeof reconcilerCommands];
if (!command) {
  log.fatal({ command: name }, 'unknown command');
  process.exit(2);
}
const controller = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort());
const pool = makePool(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
const code = await command(args, {
  pool,
  databaseUrl: config.DATABASE_URL,
  log,
  out: (line) => process.stdout.write(`${line}\n`),
  signal: controller.signal,
});
await pool.end();
log.flush();
process.exitCode = code;
