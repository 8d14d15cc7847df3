// The audit trail (issue 10): SCIM writes and admin actions recorded with time, organization,
// actor, operation, resource id and request id — never attribute values; `scimsync audit`;
// retention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneAudit } from '../src/store/audit.js';
import { upsertOrganization } from '../src/store/orgs.js';
import { cliEnv, killAllCli, runCli } from './helpers/cli.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ org: 'audited' });
});
afterAll(async () => {
  await killAllCli();
  await s.close();
});

const env = () => cliEnv({ DATABASE_URL: s.db.url, LOG_LEVEL: 'warn' });
const prefixOf = (token: string) => /^scimsync_([a-z0-9]{10})_/.exec(token)![1];

async function auditJson(extra: string[] = []): Promise<Record<string, string | null>[]> {
  const r = await runCli(['audit', 'audited', '--json', ...extra], env());
  expect(r.code).toBe(0);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('audit trail', () => {
  it('records every SCIM write with the token prefix and request id, and no attribute values', async () => {
    const user = await s.scim('/Users', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'secret.person@example.com', displayName: 'Very Private' }, headers: { 'x-request-id': 'req-create-1' } });
    expect(user.status).toBe(201);
    const id = user.body.id as string;
    await s.scim(`/Users/${id}`, { method: 'PATCH', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] } });
    await s.scim(`/Users/${id}`, { method: 'PUT', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'secret.person@example.com', active: false } });
    const group = await s.scim('/Groups', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Hidden Group', members: [{ value: id }] } });
    // A failed write leaves no entry (its transaction, entry included, is rolled back).
    const badPatch = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'explode', path: 'displayName', value: 'x' }] };
    expect((await s.scim(`/Groups/${group.body.id}`, { method: 'PATCH', body: badPatch })).status).toBe(400);
    await s.scim(`/Groups/${group.body.id}`, { method: 'DELETE' });
    await s.scim(`/Users/${id}`, { method: 'DELETE' });
    // Not writes: a read, a search, a failed write.
    await s.scim(`/Users/${id}`);
    await s.scim('/Users/.search', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'] } });
    expect((await s.scim('/Users/no-such-id', { method: 'DELETE' })).status).toBe(404);

    // Entries commit in the write's own transaction: present, in write order, once answered.
    const rows = await auditJson();
    expect(rows.map((r) => r.operation).reverse()).toEqual(['User.create', 'User.patch', 'User.replace', 'Group.create', 'Group.delete', 'User.delete']);
    const actor = `token:${prefixOf(s.token)}`;
    expect(rows.every((r) => r.actor === actor && r.organization === 'audited' && r.at && r.requestId)).toBe(true);
    expect(rows.at(-1)).toMatchObject({ operation: 'User.create', resourceId: id, requestId: 'req-create-1' });
    expect(rows.find((r) => r.operation === 'Group.create')!.resourceId).toBe(group.body.id);
    const all = JSON.stringify(rows);
    for (const value of ['secret.person', 'Very Private', 'Hidden Group', s.token]) expect(all).not.toContain(value);
  });

  it('records each request of a batched group write in its own savepoint: failed requests leave no entry', async () => {
    const group = await s.scim('/Groups', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Batched' } });
    const patch = (i: number) => ({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [i % 2 ? { op: 'explode', path: 'displayName', value: 'x' } : { op: 'replace', path: 'displayName', value: `Batched ${i}` }],
    });
    // Concurrent writes to one group share a transaction (groupWriter.ts).
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => s.scim(`/Groups/${group.body.id}`, { method: 'PATCH', body: patch(i), headers: { 'x-request-id': `batch-${i}` } })));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 16 }, (_, i) => (i % 2 ? 400 : 204)));
    const entries = (await auditJson(['--limit', '100'])).filter((r) => r.operation === 'Group.patch' && r.resourceId === group.body.id);
    expect(entries.map((r) => r.requestId).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `batch-${i * 2}`).sort());
  });

  it('records token create and revoke and approve from the CLI; --limit and the text form', async () => {
    const created = await runCli(['token', 'create', 'audited'], env());
    expect(created.code).toBe(0);
    const prefix = prefixOf(created.stdout.trim());
    expect((await runCli(['token', 'revoke', 'audited', prefix], env())).code).toBe(0);
    expect((await runCli(['approve', 'audited'], env())).code).toBe(0);
    const rows = await auditJson(['--limit', '3']);
    expect(rows.map((r) => [r.actor, r.operation, r.resourceId])).toEqual([
      ['cli', 'holds.approve', '0'],
      ['cli', 'token.revoke', prefix],
      ['cli', 'token.create', prefix],
    ]);
    const text = await runCli(['audit', 'audited', '--limit', '1'], env());
    expect(text.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+\tcli\tholds\.approve\t0\t-$/m);
    expect((await runCli(['audit'], env())).code).toBe(2);
  });

  it('records an organization delete, readable after the organization is gone', async () => {
    await upsertOrganization(s.pool, { organization: 'gone' });
    const r = await runCli(['org', 'delete', 'gone'], env());
    expect(r.code).toBe(0);
    const out = await runCli(['audit', 'gone', '--json'], env());
    expect(out.stdout.trim().split('\n').map((l) => JSON.parse(l))).toMatchObject([{ actor: 'cli', operation: 'organization.delete', resourceId: 'gone' }]);
  });

  it('retention deletes entries older than AUDIT_RETENTION_DAYS and keeps the rest', async () => {
    const before = Number((await s.pool.query(`select count(*) from audit_log`)).rows[0].count);
    await s.pool.query(`insert into audit_log (at, organization, actor, operation) values (now() - interval '40 days', 'audited', 'cli', 'token.create')`);
    expect(await pruneAudit(s.pool, 30)).toBe(1);
    expect(Number((await s.pool.query(`select count(*) from audit_log`)).rows[0].count)).toBe(before);
  });
});
