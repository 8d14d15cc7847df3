// End to end over real HTTP: an IdP-style SCIM sequence against the ingress, the reconciler
// running in-process, a real HTTP target. Each expected PUT/DELETE happens exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startReconciler } from '../src/reconciler/index.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let srv: TestServer;
let target: HttpTargetServer;
const stop = new AbortController();
let running: Promise<void>;

beforeAll(async () => {
  target = await startHttpTarget({ token: 'app-token' });
  srv = await startTestServer({
    org: 'acme',
    spec: {
      roleMappings: [{ group: 'Acme Admins', role: 'admin', teams: ['platform'] }],
      target: { type: 'http', http: { baseUrl: target.baseUrl, token: 'app-token', retryBaseDelay: '5ms' } },
    },
  });
  running = startReconciler({
    pool: srv.pool,
    databaseUrl: srv.db.url,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    signal: stop.signal,
    settings: { pollMs: 100 },
  });
});
afterAll(async () => {
  stop.abort();
  await running;
  await srv.close();
  await target.close();
});

const calls = () => target.writes('acme').map((w) => `${w.method} ${w.email}${w.method === 'PUT' ? ` ${w.body.role}` : ''}`);
const settle = () => new Promise((r) => setTimeout(r, 400));

describe('SCIM → reconciler → HTTP target', () => {
  it('create, add to mapped group, Entra "False", re-activate, Okta pathless replace, DELETE', async () => {
    const created = await srv.scim('/Users', {
      method: 'POST',
      body: { schemas: [USER], userName: 'Jane.Doe@Acme.example', externalId: 'j-1', name: { givenName: 'Jane', familyName: 'Doe' }, active: true },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    await target.waitForWrites(1);
    expect(target.writes('acme')[0].body).toEqual({ email: 'jane.doe@acme.example', role: 'member', teams: [], displayName: null, externalId: 'j-1' });

    const group = await srv.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Acme Admins', members: [] } });
    expect(group.status).toBe(201);
    const added = await srv.scim(`/Groups/${group.body.id}`, {
      method: 'PATCH',
      body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] },
    });
    expect(added.status).toBeLessThan(300);
    await target.waitForWrites(2);

    // Entra ID deactivates with a string boolean.
    const entra = await srv.scim(`/Users/${id}`, {
      method: 'PATCH',
      body: { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
    });
    expect(entra.status).toBeLessThan(300);
    await target.waitForWrites(3);

    const back = await srv.scim(`/Users/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: true }] } });
    expect(back.status).toBeLessThan(300);
    await target.waitForWrites(4);

    // Okta deactivates with a pathless replace.
    const okta = await srv.scim(`/Users/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] } });
    expect(okta.status).toBeLessThan(300);
    await target.waitForWrites(5);

    const del = await srv.scim(`/Users/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    await settle();
    expect(calls()).toEqual([
      'PUT jane.doe@acme.example member',
      'PUT jane.doe@acme.example admin',
      'DELETE jane.doe@acme.example',
      'PUT jane.doe@acme.example admin',
      'DELETE jane.doe@acme.example',
    ]);
    expect(target.writes('acme').every((w) => w.headers.authorization === 'Bearer app-token' && w.headers['idempotency-key'])).toBe(true);
    expect(target.members('acme')).toEqual([]);
  });
});
