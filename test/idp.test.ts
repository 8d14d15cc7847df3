// Replays IdP request sequences (test/fixtures/idp/*.json) through the real app: vendor quirks
// are data (STYLE.md §7). The sequences are not recorded traffic: each request is written from
// a vendor document, named in the step's `source` (title and URL). Each step's response must
// match the expectation (status, a partial body match, optional array lengths); values
// captured from one step ({{userId}}) feed the next.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Step {
  name: string;
  /** The document the request is written from. */
  source: { title: string; url: string };
  quirk?: string;
  request: { method: string; path: string; headers?: Record<string, string>; body?: unknown };
  capture?: Record<string, string>;
  expect: { status: number; body?: unknown; count?: Record<string, number> };
}

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/idp');

function substitute<T>(value: T, vars: Record<string, string>): T {
  return JSON.parse(JSON.stringify(value).replace(/\{\{(\w+)\}\}/g, (m, k: string) => vars[k] ?? m));
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const fixture = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { idp: string; steps: Step[] };
  describe(`${fixture.idp} (${file})`, () => {
    let s: TestServer;
    const vars: Record<string, string> = {};
    beforeAll(async () => { s = await startTestServer({ org: file.replace('.json', '') }); });
    afterAll(async () => { await s.close(); });

    for (const step of fixture.steps) {
      it(step.quirk ? `${step.name} [${step.quirk}]` : step.name, async () => {
        expect(step.source, 'every step names the document its request is written from').toMatchObject({ title: expect.any(String), url: expect.stringMatching(/^https:\/\//) });
        const req = substitute(step.request, vars);
        const res = await s.scim(req.path, { method: req.method, body: req.body, headers: req.headers });
        expect(res.status, res.text).toBe(step.expect.status);
        if (step.expect.body !== undefined) expect(res.body).toMatchObject(substitute(step.expect.body, vars) as object);
        for (const [attr, n] of Object.entries(step.expect.count ?? {})) expect(res.body[attr] ?? []).toHaveLength(n);
        for (const [name, attr] of Object.entries(step.capture ?? {})) vars[name] = res.body[attr];
      });
    }
  });
}
