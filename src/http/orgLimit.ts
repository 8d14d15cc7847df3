// Per-organization concurrency limit (issue 10: one tenant must not starve the others). Each
// organization may have `concurrency` SCIM requests in progress; up to `queue` more wait (FIFO)
// for at most `queueTimeoutMs`; beyond that the answer is 429 with Retry-After and a SCIM error
// body, which Entra and Okta both honour by backing off (RFC 6585 §4). Runs after
// authentication (the organization is known) and before the body is read, so a client that
// trickles a body holds one of its own organization's slots, not everyone's.
import type { RequestHandler, Response } from 'express';
import { ScimError } from '../scim/errors.js';
import { sendScimError } from './errors.js';
import { scimOrgRequestsQueued, scimOrgThrottledTotal } from '../metrics.js';

export interface OrgLimitOptions {
  /** Requests of one organization in progress at once (SCIM_ORG_CONCURRENCY). */
  concurrency: number;
  /** Requests of one organization waiting for a slot (SCIM_ORG_QUEUE). */
  queue: number;
  /** Longest wait for a slot, ms (SCIM_ORG_QUEUE_TIMEOUT_MS). */
  queueTimeoutMs: number;
}

interface Gate {
  active: number;
  waiting: (() => void)[];
}

/** Seconds a refused client should wait: the queue timeout, at least 1 (RFC 9110 §10.2.3). */
const retryAfter = (o: OrgLimitOptions) => String(Math.max(1, Math.ceil(o.queueTimeoutMs / 1000)));

function refuse(res: Response, o: OrgLimitOptions, organization: string, why: string): void {
  scimOrgThrottledTotal.inc({ organization });
  res.setHeader('Retry-After', retryAfter(o));
  sendScimError(res, new ScimError(429, undefined, `too many concurrent requests for organization "${organization}" (${why}; limit ${o.concurrency} in progress, ${o.queue} waiting): retry after ${retryAfter(o)} s`));
}

export function orgConcurrencyLimit(o: OrgLimitOptions): RequestHandler {
  const gates = new Map<string, Gate>();
  const release = (key: string, gate: Gate) => {
    const next = gate.waiting.shift();
    if (next) return next(); // the slot passes to the oldest waiter
    gate.active--;
    if (!gate.active) gates.delete(key);
  };
  return (req, res, next) => {
    const key = req.auth!.organizationId;
    let gate = gates.get(key);
    if (!gate) gates.set(key, (gate = { active: 0, waiting: [] }));
    const g = gate;
    let held = false;
    const start = () => {
      held = true;
      // The client may have gone away before the slot came: while the token was looked up
      // (this runs after authentication) or while it waited. Its 'close' has fired already and
      // fires for no later listener, so the slot goes back now: kept, it stayed taken for good,
      // and the 8 slots of an organization whose IdP gave up on requests during a slow token
      // lookup were gone until a restart (every later request waited, then got 429).
      if (res.destroyed || res.writableEnded) return release(key, g);
      // 'close' fires for finished and for aborted responses alike: the slot is freed once.
      res.once('close', () => release(key, g));
      next();
    };
    if (g.active < o.concurrency) {
      g.active++;
      return start();
    }
    if (g.waiting.length >= o.queue) return refuse(res, o, req.auth!.organization, 'queue full');
    const organization = req.auth!.organization;
    const waiter = () => {
      clearTimeout(timer);
      scimOrgRequestsQueued.dec({ organization });
      start(); // releases the slot at once if the client went away while waiting
    };
    const timer = setTimeout(() => {
      const i = g.waiting.indexOf(waiter);
      if (i >= 0) g.waiting.splice(i, 1), scimOrgRequestsQueued.dec({ organization });
      if (!held) refuse(res, o, organization, `waited ${o.queueTimeoutMs} ms`);
    }, o.queueTimeoutMs);
    g.waiting.push(waiter);
    scimOrgRequestsQueued.inc({ organization });
  };
}
