// The operator against a misbehaving apiserver: watches dropped, ended over and over, answered
// with 410 Gone, silently stalled, and 500s for a while. Each time a ScimConfig created during
// the trouble must still converge (Secret and Ready) once the apiserver behaves again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllCli } from './helpers/cli.js';
import { condition, eventually, scimConfig, startOperatorRig, type OperatorRig } from './helpers/operator.js';

let rig: OperatorRig;
let metricsUrl: string;

beforeAll(async () => {
  rig = await startOperatorRig();
  // A short watchdog so the silenced-watch case is repaired within the test's patience.
  const { port } = await rig.startOperator('operator-f', { OPERATOR_WATCHDOG_MS: '1500' });
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
});

afterAll(async () => {
  await killAllCli();
  await rig?.close();
});

const readyWithSecret = (name: string, timeoutMs: number) =>
  eventually(() => condition(rig.fake.get('scimconfigs', 'default', name), 'Ready')?.status === 'True' && rig.fake.get('secrets', 'default', `${name}-scim-token`), timeoutMs, `${name} Ready`);

async function watchRestarts(): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return [...text.matchAll(/^scimsync_operator_watch_restarts_total\{resource="[a-z]+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('operator under apiserver faults', () => {
  it('dropped watches: re-watched, a new object converges', async () => {
    expect(rig.fake.faults.dropWatches()).toBeGreaterThan(0);
    rig.fake.create('scimconfigs', scimConfig('after-drop', { organization: 'after-drop' }));
    await readyWithSecret('after-drop', 5000);
  });

  it('410 Gone on re-watch (as an event and as HTTP 410): re-listed, a new object converges', async () => {
    rig.fake.faults.goneNextWatch(2, 'event');
    rig.fake.compact();
    rig.fake.faults.endWatches();
    rig.fake.create('scimconfigs', scimConfig('after-gone', { organization: 'after-gone' }));
    await readyWithSecret('after-gone', 5000);
    rig.fake.faults.goneNextWatch(2, 'http');
    rig.fake.faults.dropWatches();
    rig.fake.create('scimconfigs', scimConfig('after-gone-http', { organization: 'after-gone-http' }));
    await readyWithSecret('after-gone-http', 8000);
  });

  it('watches the server ends at once, over and over: paced, still converges', async () => {
    rig.fake.faults.endWatchesAfter(0);
    rig.fake.faults.endWatches();
    try {
      rig.fake.create('scimconfigs', scimConfig('churn', { organization: 'churn' }));
      await readyWithSecret('churn', 8000);
    } finally {
      rig.fake.faults.endWatchesAfter(null);
    }
  });

  it('a silently stalled watch: the watchdog re-establishes it', async () => {
    await eventually(() => rig.fake.openWatches() >= 2, 10_000, 'both watches open again');
    expect(rig.fake.faults.silenceWatches()).toBeGreaterThan(0);
    rig.fake.create('scimconfigs', scimConfig('after-silence', { organization: 'after-silence' }));
    await readyWithSecret('after-silence', 8000);
  });

  it('500s on every ScimConfig and Secret request for 2 s: informers restart with backoff, reconciles retry, all converge', async () => {
    const restartsBefore = await watchRestarts();
    // Not on the Lease: 2 s without renewing is past the test's renew deadline, and the
    // operator would (rightly) exit; operator.leader.test.ts covers that.
    rig.fake.faults.fail({ status: 500, forMs: 2000, match: { path: '/scimconfigs' } });
    rig.fake.faults.fail({ status: 500, forMs: 2000, match: { path: '/secrets' } });
    rig.fake.faults.dropWatches();
    rig.fake.create('scimconfigs', scimConfig('during-500s', { organization: 'during-500s' }));
    await readyWithSecret('during-500s', 15_000);
    expect(await watchRestarts()).toBeGreaterThan(restartsBefore);
    // Everything created before is still Ready (nothing was torn down by the errors).
    for (const name of ['after-drop', 'after-gone', 'churn', 'after-silence']) {
      expect(condition(rig.fake.get('scimconfigs', 'default', name), 'Ready')?.status).toBe('True');
    }
  });
});
