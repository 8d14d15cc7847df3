// NOTIFY on channel a at RATE/s for SECONDS; one listener on a (latency), K idle listeners on b.
// Prints CPU ms of the listener backends (from /proc) and notify→receive latency p50/p99.
import pg from 'pg';
import { readFileSync } from 'node:fs';
// Usage: NOTIFY_WAKE_URL=postgres://postgres@127.0.0.1:5432/<scratch db> node bench/notifyWake.mjs <K idle listeners> <rate/s> <seconds>
const url = process.env.NOTIFY_WAKE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const [K, RATE, SECONDS] = process.argv.slice(2).map(Number);
/**
 * CPU ms (utime + stime) of a process, from /proc.
 * @param {number} pid
 */
const cpu = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
/** @param {string | null} ch  channel to listen on */
const mk = async (ch) => { const c = new pg.Client(url); await c.connect(); if (ch) await c.query(`listen ${ch}`); const pid = (await c.query('select pg_backend_pid() p')).rows[0].p; return { c, pid }; };
const la = await mk('a'); const idle = []; for (let i = 0; i < K; i++) idle.push(await mk('b'));
const sender = await mk(null);
/** @type {number[]} */
const lat = [];
la.c.on('notification', (m) => lat.push(performance.now() - Number(m.payload)));
const pids = [la.pid, ...idle.map((x) => x.pid)];
const before = pids.map(cpu), sb = cpu(sender.pid), t0 = performance.now();
const n = RATE * SECONDS;
for (let i = 0; i < n; i++) {
  const due = t0 + (i * 1000) / RATE; const w = due - performance.now(); if (w > 0) await new Promise((r) => setTimeout(r, w));
  await sender.c.query(`select pg_notify('a', $1)`, [String(performance.now())]);
}
await new Promise((r) => setTimeout(r, 500));
const after = pids.map(cpu);
lat.sort((x, y) => x - y);
/** @param {number} p  0–1 */
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
console.log(JSON.stringify({ idleListeners: K, notifies: n, received: lat.length, listenerACpuMs: after[0] - before[0], idleListenersCpuMs: after.slice(1).reduce((s, v, i) => s + v - before[i + 1], 0), senderCpuMs: cpu(sender.pid) - sb, p50ms: q(0.5), p99ms: q(0.99), load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') }));
for (const x of [la, ...idle, sender]) await x.c.end();
