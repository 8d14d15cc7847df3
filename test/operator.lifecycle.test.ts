// ScimConfig lifecycles across delete and create: a real operator child process against the
// loopback fake apiserver and real Postgres (newcomer report, problems 4 and 5).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CliProcess } from './helpers/cli.js';
import { killAllCli } from './helpers/cli.js';
import { condition, eventually, scimConfig, startOperatorRig, type OperatorRig } from './helpers/operator.js';

let rig: OperatorRig;
let operator: CliProcess;

beforeAll(async () => {
  rig = await startOperatorRig();
  operator = (await rig.startOperator('operator-0', { OPERATOR_STATUS_REFRESH_MS: '300' })).proc;
});

afterAll(async () => {
  await killAllCli();
  await rig?.close();
});

const get = (name: string) => rig.fake.get('scimconfigs', 'default', name);

it('create/delete cycles leave no abort listeners behind: no MaxListenersExceededWarning on stderr', async () => {
  const started = Date.now();
  for (let i = 0; i < 3; i++) {
    rig.fake.create('scimconfigs', scimConfig('cycle', { organization: 'cycle' }));
    await eventually(() => condition(get('cycle'), 'Ready')?.status === 'True', 5000, 'Ready');
    rig.fake.delete('scimconfigs', 'default', 'cycle');
    await eventually(() => !get('cycle'), 5000, 'finalized and gone');
  }
  // The Lease is renewed every 250 ms (SHORT_LEASE): more than 11 renewals have slept on the
  // process's AbortSignal by now; the leak warned after the 11th.
  const wait = 4000 - (Date.now() - started);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  expect(operator.stderr).toContain('ScimConfig deleted');
  expect(operator.stderr).not.toContain('MaxListenersExceededWarning');
});
