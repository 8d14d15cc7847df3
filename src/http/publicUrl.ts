// The base URL written into Location and meta.location (RFC 7644 §3.1, RFC 7643 §3.1). The
// Host header is client input: reflected, it lets anyone who can reach the port make scimsync
// hand out links to a host of their choosing (cache poisoning, an IdP following a Location to
// an attacker). So the root is, in order:
//   1. PUBLIC_URL, when set (required in production: src/main.ts refuses to start without it
//      or PUBLIC_HOSTS);
//   2. the Host header when it is on the PUBLIC_HOSTS allow-list, else the list's first entry;
//   3. the address and port the connection actually reached (the socket's local end): always
//      an address of this machine, never a name the client made up.
import type { Request, RequestHandler } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** scheme://host[:port] for links in responses (see above). */
    publicRoot?: string;
  }
}

export interface PublicUrlOptions {
  publicUrl?: string;
  /** Host[:port] values accepted from the Host header (lower case). */
  publicHosts?: string[];
}

function socketRoot(req: Request): string {
  let host = req.socket.localAddress ?? '127.0.0.1';
  if (host.startsWith('::ffff:')) host = host.slice(7); // IPv4-mapped IPv6
  if (host.includes(':')) host = `[${host}]`;
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  return `${scheme}://${host}:${req.socket.localPort}`;
}

/** Sets req.publicRoot for respond.ts baseUrl(). */
export function publicRoot(opts: PublicUrlOptions): RequestHandler {
  const fixed = opts.publicUrl?.replace(/\/$/, '');
  const allowed = (opts.publicHosts ?? []).map((h) => h.trim().toLowerCase()).filter(Boolean);
  return (req, _res, next) => {
    if (fixed) req.publicRoot = fixed;
    else if (allowed.length) {
      const host = (req.get('host') ?? '').toLowerCase();
      // req.protocol honours X-Forwarded-Proto only under TRUST_PROXY_HOPS.
      req.publicRoot = `${req.protocol}://${allowed.includes(host) ? host : allowed[0]}`;
    } else req.publicRoot = socketRoot(req);
    next();
  };
}
