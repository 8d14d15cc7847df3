// HTTP load with autocannon (programmatic API). Run as a child process
// (`node bench/lib/load.mjs '<json options>'`) it generates background load for scenario 6
// without sharing the event loop of the process that measures latencies.
import autocannon from 'autocannon';
import { fileURLToPath } from 'node:url';

/**
 * Runs one load phase. `body(i)` (optional) gives a unique body per request, `path(i)` a
 * unique path. Either `amount` (requests) or `duration` (seconds) bounds it; `timeoutMs`
 * bounds it in time whatever happens.
 * @param {object} options
 * @param {string} options.url  base URL of the server
 * @param {string} options.token  bearer token
 * @param {string} [options.method]
 * @param {string | ((i: number) => string)} [options.path]
 * @param {(i: number) => unknown} [options.body]  JSON body of request i
 * @param {number} [options.connections]
 * @param {number} [options.amount]  requests
 * @param {number} [options.duration]  seconds
 * @param {number} [options.overallRate]  requests per second, all connections together
 * @param {number} [options.timeoutMs]
 * @returns {Promise<LoadResult>}
 */
export async function load({ url, token, method = 'GET', path, body, connections = 16, amount, duration, overallRate, timeoutMs = 120_000 }) {
  let i = 0;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', accept: 'application/scim+json' };
  /** @type {autocannon.Request} */
  const request = {
    method,
    path: typeof path === 'string' ? path : '/',
    setupRequest: (req) => {
      const n = i++;
      const r = { ...req };
      if (typeof path === 'function') r.path = path(n);
      if (body) r.body = JSON.stringify(body(n));
      return r;
    },
  };
  const instance = autocannon({
    url,
    connections,
    pipelining: 1,
    headers,
    requests: [request],
    ...(amount ? { amount } : { duration: duration ?? 5 }),
    ...(overallRate ? { overallRate } : {}),
    timeout: 30,
  });
  const timer = setTimeout(() => instance.stop(), timeoutMs);
  const started = process.hrtime.bigint();
  let finished = started;
  // autocannon ends an amount-bounded run only at its next one-second tick, so its duration
  // rounds short runs up to whole seconds (300 requests in 0.4 s read as 300/s): time the
  // run from the last response instead.
  instance.on('response', () => (finished = process.hrtime.bigint()));
  const result = await instance;
  clearTimeout(timer);
  const ok = result['2xx'];
  const measured = Number(finished - started) / 1e9;
  const seconds = (amount ? measured : result.duration ?? measured) || 1e-9;
  return {
    rps: ok / seconds,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
  };
}

/**
 * A phase's outcome: `rps` counts 2xx responses only; latencies in ms.
 * @typedef {{ rps: number, ok: number, non2xx: number, errors: number, seconds: number, latencyP50: number, latencyP99: number }} LoadResult
 */

/**
 * The SCIM User that POST /Users gets as request `n` of a run (unique userName, externalId, email).
 * @param {string} prefix
 * @param {number} n
 */
export const userBody = (prefix, n) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName: `${prefix}${n}@example.com`,
  externalId: `${prefix}-ext-${n}`,
  active: true,
  displayName: `Bench User ${n}`,
  name: { givenName: 'Bench', familyName: `User ${n}` },
  emails: [{ value: `${prefix}${n}@example.com`, type: 'work', primary: true }],
});

// Child mode: background POST /Users at a fixed rate until the parent says stop (or maxSeconds).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = JSON.parse(process.argv[2]);
  const r = await load({
    url: o.url,
    token: o.token,
    method: 'POST',
    path: o.path,
    body: (n) => userBody(o.prefix, n),
    connections: o.connections,
    duration: o.seconds,
    overallRate: o.rate,
    timeoutMs: (o.seconds + 30) * 1000,
  });
  process.stdout.write(JSON.stringify(r));
}
