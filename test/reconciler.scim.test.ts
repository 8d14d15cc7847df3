// End to end over real HTTP: an IdP-style SCIM sequence against the ingress, the reconciler
// running in-process, a real HTTP target. Each expected PUT/DELETE happens exactly once.
import { makeLogger } from '../src/log.js';
import { logSink } from './helpers/logScan.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReconciler } from '../src/reconciler/index.js';
import { openReconcilerStore } from '../src/store/reconcilerStore.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { loadConfig } from '../src/config.js';
import { USER_SCHEMA as USER, GROUP_SCHEMA as GROUP, PATCH_OP_SCHEMA as PATCH, ENTERPRISE_USER_SCHEMA as ENTERPRISE } from '../src/scim/schemas.js';


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
    openStore: (max) => openReconcilerStore(srv.db.url, max),
    databaseUrl: srv.db.url,
    log: makeLogger(process.env.TEST_LOG_LEVEL ?? 'info', logSink('reconciler.scim.test.ts')),
    signal: stop.signal,
    config: loadConfig(),
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

  // Issue 7, item 1: Entra deprovisions with the deactivation and a manager removal through a
  // value filter in ONE PATCH. A 400 on the filter used to reject the whole request: the user
  // stayed active and kept access while Entra retried forever.
  it('Entra: Replace active "False" + Remove manager[value eq id] revokes access and clears the manager', async () => {
    const mine = () => target.writes('acme').filter((w) => w.email === 'sam.roe@acme.example');
    const boss = await srv.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: 'boss@acme.example', active: true } });
    const created = await srv.scim('/Users', {
      method: 'POST',
      body: { schemas: [USER, ENTERPRISE], userName: 'sam.roe@acme.example', externalId: 's-1', active: 'True', [ENTERPRISE]: { manager: boss.body.id } },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const group = await srv.scim('/Groups?filter=displayName+eq+%22Acme+Admins%22&excludedAttributes=members');
    const gid = group.body.Resources[0].id;
    await srv.scim(`/Groups/${gid}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: id }] }] } });
    await until(() => mine().some((w) => w.method === 'PUT' && w.body.role === 'admin'));

    const entra = await srv.scim(`/Users/${id}`, {
      method: 'PATCH',
      body: {
        schemas: [PATCH],
        Operations: [
          { op: 'Replace', path: 'active', value: 'False' },
          { op: 'Remove', path: `${ENTERPRISE}:manager[value eq "${boss.body.id}"]` },
        ],
      },
    });
    expect(entra.status, entra.text).toBe(200);
    await until(() => mine().some((w) => w.method === 'DELETE'));
    const after = await srv.scim(`/Users/${id}`);
    expect(after.body.active).toBe(false);
    expect(after.body[ENTERPRISE]?.manager).toBeUndefined();
    expect(target.members('acme').map((m) => m.email)).not.toContain('sam.roe@acme.example');
  });
});

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the target');
    await new Promise((r) => setTimeout(r, 25));
  }
}
