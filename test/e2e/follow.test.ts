// End to end: `agentbus deploy --wait` as a script uses it. It follows the incident across a NATS
// restart, and its exit code tells the outcome: 0 healthy, 3 rolled back, 4 escalated, 5 failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DemoBranches } from '@agentbus/demo';
import { runCli, waitFor } from '@agentbus/testkit';
import { startLoop } from './harness.ts';

test('deploy --wait follows the incident across a NATS restart mid-loop and reports the rollback (exit 3)', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());
  loop.holdDeployRun(1);
  const wait = runCli(['deploy', loop.demo.name, '--ref', DemoBranches.broken, '--wait', '--timeout-ms', '90000'], { env: loop.cliEnv, timeoutMs: 120_000 });
  await waitFor('the deploy command to be running', () => loop.heldDeployPid(1), 30_000, 50);
  await loop.nats.restart();
  loop.releaseDeployRun(1);
  const result = await wait;
  assert.equal(result.code, 3, `${result.stdout}\n${result.stderr}\n${loop.logTail()}`);
  assert.match(result.stdout, /deployed primerouter [0-9a-f]{12}/, 'the events from before the restart are shown');
  assert.match(result.stdout, /git revert -m 1 [0-9a-f]{12} → [0-9a-f]{12}; pushed, remote verified/, 'and those after it');
  assert.match(result.stdout, /redeployed at [0-9a-f]{12} and healthy again/);
  assert.match(result.stdout, /primerouter: rolled-back — the deploy did not end healthy \(exit 3\)/);
});

test('deploy --wait exit codes: 0 healthy, 5 failed (the remote refuses the push)', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());
  const env = loop.cliEnv;
  const deploy = (ref: string) => runCli(['deploy', loop.demo.name, '--ref', ref, '--wait', '--timeout-ms', '60000'], { env, timeoutMs: 90_000 });

  const good = await deploy(DemoBranches.good);
  assert.equal(good.code, 0, `${good.stdout}\n${good.stderr}`);
  assert.match(good.stdout, /primerouter: healthy$/m);

  loop.originHook('pre-receive', 'echo "main is frozen" >&2\nexit 1');
  const refused = await deploy(DemoBranches.flaky);
  assert.equal(refused.code, 5, `${refused.stdout}\n${refused.stderr}`);
  assert.match(refused.stdout, /failed at push/);
  assert.match(refused.stdout, /primerouter: deploy-failed — the deploy did not end healthy \(exit 5\)/);
});

test('deploy --wait exits 4 when agentbus escalates instead of rolling back', async (t) => {
  // The dependency is down before the services start: the baseline is unhealthy, so a failing deploy is not this deploy's fault.
  const loop = await startLoop({ beforeServices: (l) => l.demo.setDependencyDown(true) });
  t.after(() => loop.stop());
  const skipped = await runCli(['deploy', loop.demo.name, '--ref', DemoBranches.good, '--wait', '--timeout-ms', '60000'], { env: loop.cliEnv, timeoutMs: 90_000 });
  assert.equal(skipped.code, 4, `${skipped.stdout}\n${skipped.stderr}\n${loop.logTail()}`);
  assert.match(skipped.stdout, /no rollback \(baseline-unhealthy\)/);
  assert.match(skipped.stdout, /primerouter: rollback-skipped — the deploy did not end healthy \(exit 4\)/);
});
