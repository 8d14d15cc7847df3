// Location and meta.location never reflect an untrusted Host header (issue 10).
import { afterAll, describe, expect, it } from 'vitest';
import { requestFrom } from './helpers/from.js';
import { cliEnv, killAllCli, runCli } from './helpers/cli.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const servers: TestServer[] = [];
afterAll(async () => {
  await killAllCli();
  await Promise.all(servers.map((s) => s.close()));
});

const EVIL = 'evil.example:666';

async function createUser(s: TestServer, host: string, userName: string) {
  const res = await requestFrom('127.0.0.1', `${s.baseUrl}/Users`, {
    method: 'POST',
    headers: { host, authorization: `Bearer ${s.token}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName }),
  });
  expect(res.status).toBe(201);
  return res;
}

describe('links in responses', () => {
  it('without PUBLIC_URL, a forged Host never appears in Location, meta.location or list/group $refs', async () => {
    const s = await startTestServer({ org: 'hosts' });
    servers.push(s);
    const res = await createUser(s, EVIL, 'forged-host');
    expect(res.headers.location).toBe(`${s.baseUrl}/Users/${res.body.id}`);
    expect(res.body.meta.location).toBe(res.headers.location);
    const group = await requestFrom('127.0.0.1', `${s.baseUrl}/Groups`, {
      method: 'POST',
      headers: { host: EVIL, authorization: `Bearer ${s.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g', members: [{ value: res.body.id }] }),
    });
    const list = await requestFrom('127.0.0.1', `${s.baseUrl}/Users`, { headers: { host: EVIL, authorization: `Bearer ${s.token}` } });
    const schemas = await requestFrom('127.0.0.1', `${s.baseUrl}/Schemas`, { headers: { host: EVIL, authorization: `Bearer ${s.token}` } });
    for (const r of [res, group, list, schemas]) {
      expect(JSON.stringify(r.body)).not.toContain('evil.example');
      expect(String(r.headers.location ?? '')).not.toContain('evil.example');
    }
  });

  it('with PUBLIC_HOSTS, an allowed Host is used and any other falls back to the first allowed one', async () => {
    const s = await startTestServer({ org: 'allowlist', options: { publicHosts: ['scim.example.com', 'alt.example.com:8443'] } });
    servers.push(s);
    expect((await createUser(s, 'alt.example.com:8443', 'allowed')).headers.location).toMatch(/^http:\/\/alt\.example\.com:8443\/scim\/v2\/allowlist\/Users\//);
    const forged = await createUser(s, EVIL, 'forged');
    expect(forged.headers.location).toMatch(/^http:\/\/scim\.example\.com\/scim\/v2\/allowlist\/Users\//);
    expect(forged.body.meta.location).toBe(forged.headers.location);
  });

  it('with PUBLIC_URL, links use it whatever the Host', async () => {
    const s = await startTestServer({ org: 'fixed', options: { publicUrl: 'https://idp-facing.example.com/' } });
    servers.push(s);
    const res = await createUser(s, EVIL, 'fixed');
    expect(res.headers.location).toBe(`https://idp-facing.example.com/scim/v2/fixed/Users/${res.body.id}`);
  });

  it('scimsync start refuses to run in production without PUBLIC_URL or PUBLIC_HOSTS', async () => {
    const r = await runCli(['start'], cliEnv({ NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/none' }));
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/PUBLIC_URL: required when NODE_ENV=production/);
  });
});
