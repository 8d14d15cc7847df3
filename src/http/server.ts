// The node:http server every long-running command serves its app with, with the timeouts
// that keep slow or stalled clients from holding connections (HTTP_*_TIMEOUT_MS in config.ts).
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Logger } from 'pino';

export interface ServerTimeouts {
  /** Whole request, headers and body (ms); a request not received by then is answered 408. */
  requestTimeoutMs: number;
  /** Request headers (ms); must not exceed requestTimeoutMs. */
  headersTimeoutMs: number;
  /** Idle keep-alive connections are closed after this long (ms). */
  keepAliveTimeoutMs: number;
}

/**
 * A server enforcing `t`. Node checks request and header deadlines every
 * connectionsCheckingInterval (30 s by default, which would let a 2 s limit run to 32 s):
 * check at a tenth of the smallest limit, at least every second.
 */
export function makeServer(app: RequestListener, t: ServerTimeouts, log?: Logger): Server {
  const headersTimeout = Math.min(t.headersTimeoutMs, t.requestTimeoutMs);
  const server = createServer(
    {
      requestTimeout: t.requestTimeoutMs,
      headersTimeout,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 10))),
    },
    app,
  );
  server.keepAliveTimeout = t.keepAliveTimeoutMs;
  // After listen() an 'error' (e.g. EMFILE when accepting) is logged, not fatal: the server keeps serving.
  server.on('error', (err) => log?.error({ err }, 'HTTP server error'));
  // A client error (a malformed request, a connection reset, a timeout) is answered when the
  // socket still can be, and never reaches 'error' unhandled.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  return server;
}

export const timeoutsOf = (c: { HTTP_REQUEST_TIMEOUT_MS: number; HTTP_HEADERS_TIMEOUT_MS: number; HTTP_KEEP_ALIVE_TIMEOUT_MS: number }): ServerTimeouts => ({
  requestTimeoutMs: c.HTTP_REQUEST_TIMEOUT_MS,
  headersTimeoutMs: c.HTTP_HEADERS_TIMEOUT_MS,
  keepAliveTimeoutMs: c.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});
