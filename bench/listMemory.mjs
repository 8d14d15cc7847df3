// node bench/listMemory.mjs [--users 1000] [--kb 450] [--concurrency 1,8] [--root DIR]
// Peak memory of list requests over users with large attributes (issue 10: one
// GET /Users?count=1000 took +2.1 GB for a 466 MB response; eight at once crashed the
// process). Seeds N users of ~KB kB each straight into Postgres, starts a real
// `node <root>/dist/main.js start` per measurement (so VmHWM starts fresh), sends C concurrent
// GET /Users?count=N to 127.0.0.1, and reports the server's peak RSS above its idle RSS, the
// response size and time. --root runs another checkout's build (e.g. main, for "before").
// Uses BENCH_DATABASE_URL or an embedded PostgreSQL; stops by itself.
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { ROOT, freshDatabase, memoryOf, sleep, startPostgres, runNode } from './lib/common.mjs';

const argv = process.argv.slice(2);
/**
 * The value after `--<name>`, else `dflt`.
 * @template {string | number | undefined} [D=undefined]
 * @param {string} name
 * @param {D} [dflt]
 * @returns {string | D}
 */
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? /** @type {D} */ (dflt) : argv[i + 1];
};
const users = Number(arg('users', '1000'));
const kb = Number(arg('kb', '450'));
const levels = arg('concurrency', '1,8').split(',').map(Number);
const root = path.resolve(arg('root', ROOT));
/** @param {string} m */
const say = (m) => process.stderr.write(`[listMemory] ${m}\n`);

const log = /** @type {typeof import('../src/log.js')} */ (await import(path.join(ROOT, 'dist/log.js'))).makeLogger('warn');
const db = await startPostgres(log);
const results = [];
try {
  const url = await freshDatabase(db.adminUrl, 'scimsync_bench_listmem');
  const env = { ...process.env, DATABASE_URL: url, HOST: '127.0.0.1', LOG_LEVEL: 'warn', RECONCILER_ENABLED: 'false' };
  await runNode([path.join(root, 'dist/main.js'), 'migrate'], env);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows: [org] } = await client.query(`insert into organizations (slug) values ('mem') returning id`).catch(async () =>
    client.query(`select id from organizations where slug = 'mem'`));
  say(`seeding ${users} users of ~${kb} kB`);
  // nickName of md5 repeats: ~kb kB each rendered; compresses in TOAST, so seeding is quick.
  await client.query(
    `insert into scim_users (organization_id, user_name, resource)
     select $1::uuid, 'm' || i || '@example.com',
            jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                               'userName', 'm' || i || '@example.com', 'nickName', repeat(md5(i::text), $3::int * 32))
       from generate_series(1, $2::int) i`,
    [org.id, users, kb],
  );
  await client.end();
  const token = (await runNode([path.join(root, 'dist/main.js'), 'token', 'create', 'mem'], env)).trim();

  for (const c of levels) {
    /** @type {typeof import('../src/store/embedded.js')} */
    const { freePort } = await import(path.join(ROOT, 'dist/store/embedded.js'));
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(root, 'dist/main.js'), 'start'], { cwd: root, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
    const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
      } catch {}
      if (i > 400) throw new Error(`server did not start: ${stderr}`);
      await sleep(50);
    }
    await sleep(300);
    const idle = await memoryOf(child.pid);
    let peak = 0;
    const sampler = setInterval(async () => (peak = Math.max(peak, (await memoryOf(child.pid)).rssMb ?? 0)), 50);
    const t0 = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: c }, async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/scim/v2/mem/Users?count=${users}`, { headers: { authorization: `Bearer ${token}` } });
          // Read and drop the body as it arrives: the client keeps no copy.
          let bytes = 0;
          for await (const chunk of /** @type {ReadableStream<Uint8Array>} */ (res.body)) bytes += chunk.length;
          return { status: res.status, bytes };
        } catch (/** @type {any} */ err) {
          return { status: 'error', bytes: 0, err: String(err.cause?.code ?? err.message) };
        }
      }),
    );
    const ms = performance.now() - t0;
    clearInterval(sampler);
    const hwm = (await memoryOf(child.pid)).hwmMb;
    const crashed = child.exitCode !== null || child.signalCode !== null;
    child.kill('SIGTERM');
    const exit = await Promise.race([exited, sleep(15_000).then(() => (child.kill('SIGKILL'), exited))]);
    /** @type {{ concurrency: number, statuses: string, responseMb: number, idleRssMb: number | null, peakRssMb: number, peakAboveIdleMb: number, seconds: number, serverCrashed: boolean, stderrTail?: string }} */
    const row = {
      concurrency: c,
      statuses: outcomes.map((o) => o.status).join(','),
      responseMb: +(outcomes.reduce((n, o) => n + o.bytes, 0) / c / 2 ** 20).toFixed(1),
      idleRssMb: idle.rssMb,
      peakRssMb: hwm ?? peak,
      peakAboveIdleMb: +((hwm ?? peak) - Number(idle.rssMb)).toFixed(1),
      seconds: +(ms / 1000).toFixed(1),
      serverCrashed: crashed || (exit.signal !== null && exit.signal !== 'SIGTERM' && exit.signal !== 'SIGKILL'),
    };
    if (crashed) row.stderrTail = stderr.split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 300);
    results.push(row);
    say(JSON.stringify(row));
  }
} finally {
  await db.stop();
}
console.log(JSON.stringify({ root, users, kb, results }, null, 2));
