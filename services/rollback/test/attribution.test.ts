import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, RollbackSkipReasons, validateData, type AgentbusRegistry, type CheckResult, type DataInput, type MetricResult, type ReleaseManifest } from '@agentbus/contracts';
import { parseFleetConfig } from '@agentbus/fleet';
import { revertedShaIn } from '@agentbus/git';
import { StateIntegrityError, type StateStore } from '@agentbus/state';
import { memoryStateStore } from '@agentbus/state/testing';
import { DEPLOYED_AT, deployedManifest, MERGE, PREVIOUS } from './fixtures.ts';
import { attributeDeployFailure, attributeFailure, attributeRequest, type Attribution } from '../src/attribution.ts';

// The decision tables of attribution: whether a failure is this deployment's to roll back, and
// when it is not, the reason and whether a person is asked to decide. The rollback's int and e2e
// tests show that a decision is acted on; these name every decision and its exact wording.

const NEWER = '3'.repeat(40);
const REVERTED = '4'.repeat(40);
const AT = DEPLOYED_AT;

const [api] = parseFleetConfig({
  services: [
    {
      name: 'api',
      git: { path: 'clones/api' },
      deploy: { command: ['node', 'deploy.mjs'] },
      health: {
        checks: [
          { name: 'health', url: 'http://127.0.0.1:9400/health' },
          { name: 'ready', url: 'http://127.0.0.1:9400/ready' },
          { name: 'docs', url: 'http://127.0.0.1:9400/docs', severity: 'warning' },
        ],
        metrics: [{ name: 'error-rate', query: 'sum(rate(errors_total[1m]))', max: 0.05 }],
      },
    },
  ],
  prometheus: { url: 'http://127.0.0.1:9090' },
}).services;

function metric(name: string, outcome: MetricResult['outcome'], reason: string | null): MetricResult {
  return { name, query: 'sum(rate(errors_total[1m]))', severity: 'fatal', outcome, value: 0.4, baselineValue: 0, max: 0.05, min: null, maxRatio: null, maxIncrease: null, attempts: 1, evaluatedAt: AT, reason };
}
const service = api!;

function check(name: string, ok: boolean, overrides: Partial<CheckResult> = {}): CheckResult {
  return {
    name,
    url: `http://127.0.0.1:9400/${name}`,
    severity: 'fatal',
    ok,
    probes: 5,
    failures: ok ? 0 : 3,
    maxConsecutiveFailures: ok ? 0 : 3,
    failureThreshold: 3,
    lastStatus: ok ? 200 : null,
    expectedStatus: 200,
    latencyP95Ms: 12,
    latencyThresholdMs: null,
    latenciesMs: [10, 11, 12],
    error: ok ? null : 'connection refused',
    ...overrides,
  };
}

const manifest: ReleaseManifest = deployedManifest;

const healthyBaseline = { healthy: true, checkedAt: '2026-12-01T09:59:00.000Z', checks: [check('health', true), check('ready', true)], source: 'watch' as const };

function healthFailed(overrides: Partial<DataInput<AgentbusRegistry, 'health.failed'>> = {}) {
  return validateData(agentbusRegistry, 'health.failed', {
    deploymentId: 'dep-1',
    service: 'api',
    phase: 'post-deploy',
    mergeCommit: MERGE,
    baseline: healthyBaseline,
    checks: [check('health', false), check('ready', true)],
    stabilizationMs: 0,
    startedAt: AT,
    finishedAt: AT,
    probeTimeoutMs: 0,
    probeWaitMs: 0,
    ...overrides,
  });
}

/** What the clone answers (git's own parser reads the commit messages): the facts attribution asks git for. */
function clone(facts: { messages?: Record<string, string>; remoteHead?: string; revertOf?: Record<string, string> } = {}) {
  return {
    revertedCommitOf: (commit: string) => Promise.resolve(revertedShaIn(facts.messages?.[commit] ?? 'Merge feature/x into main')),
    remoteBranchSha: () => Promise.resolve(facts.remoteHead),
    findRevertOf: (commit: string) => Promise.resolve(facts.revertOf?.[commit]),
  };
}

const revertMessage = `Revert "Merge feature/y into main"\n\nThis reverts commit ${REVERTED}.`;

type Expected = { attributed: false; reason: string; detail: string; escalate: boolean } | { attributed: true; reason: string; failingChecks: string[] };

/** The decision without the manifest an attributed one carries (asserted on its own). */
function decisionOf(attribution: Attribution): Expected {
  if (!attribution.attributed) return { attributed: false, reason: attribution.reason, detail: attribution.detail, escalate: attribution.escalate };
  return { attributed: true, reason: attribution.reason, failingChecks: attribution.failingChecks };
}

/** A state store whose release manifest fails verification, as StateStore.getVerified says it. */
function tamperedState(): StateStore {
  const refuse = () => Promise.reject(new StateIntegrityError("releases/api fails verification: version 1's data was changed after it was written", 'restore an intact version', { path: 'releases/api', number: 1, reason: 'data-changed' }));
  return { getVerified: refuse, get: refuse } as unknown as StateStore;
}

describe('attributeFailure: a health.failed after a deploy', () => {
  const rows: Array<{ name: string; manifest: ReleaseManifest | null; failure: ReturnType<typeof healthFailed>; messages?: Record<string, string>; foundBy?: string; tampered?: boolean; expected: Expected }> = [
    {
      name: 'tampered-state: the release manifest fails verification (nothing is decided on it)',
      manifest,
      tampered: true,
      failure: healthFailed(),
      expected: { attributed: false, reason: 'tampered-state', detail: "releases/api fails verification: version 1's data was changed after it was written; agentbus decides nothing on it", escalate: true },
    },
    {
      name: 'unknown-deployment: no release manifest (agentbus did not deploy it)',
      manifest: null,
      failure: healthFailed(),
      expected: { attributed: false, reason: 'unknown-deployment', detail: 'no release manifest for api: agentbus did not deploy it, so it cannot tell what to roll back', escalate: true },
    },
    {
      name: 'not-latest-deployment: a newer deployment is recorded',
      manifest: { ...manifest, deploymentId: 'dep-2', commit: NEWER, mergeCommit: NEWER },
      failure: healthFailed(),
      expected: {
        attributed: false,
        reason: 'not-latest-deployment',
        detail: 'deployment dep-1 is no longer the latest of api (now dep-2, deployed at 333333333333); the newer one is judged on its own',
        escalate: true,
      },
    },
    {
      name: 'not-latest-deployment comes before already-rolled-back: a newer deployment that was rolled back',
      manifest: { ...manifest, deploymentId: 'dep-2', status: 'rolled-back', commit: PREVIOUS, rolledBackAt: '2026-12-01T10:05:00.000Z' },
      failure: healthFailed(),
      expected: {
        attributed: false,
        reason: 'not-latest-deployment',
        detail: 'deployment dep-1 is no longer the latest of api (now dep-2, rolled-back at 222222222222); the newer one is judged on its own',
        escalate: true,
      },
    },
    {
      name: 'already-rolled-back: told when, and nobody is asked',
      manifest: { ...manifest, status: 'rolled-back', commit: PREVIOUS, rolledBackAt: '2026-12-01T10:05:00.000Z' },
      failure: healthFailed(),
      expected: { attributed: false, reason: 'already-rolled-back', detail: 'deployment dep-1 was already rolled back at 2026-12-01T10:05:00.000Z', escalate: false },
    },
    {
      name: 'already-rolled-back without a time',
      manifest: { ...manifest, status: 'rolled-back', commit: PREVIOUS },
      failure: healthFailed(),
      expected: { attributed: false, reason: 'already-rolled-back', detail: 'deployment dep-1 was already rolled back at an earlier time', escalate: false },
    },
    {
      name: 'baseline-unhealthy: no baseline from before the deploy',
      manifest,
      failure: healthFailed({ baseline: null }),
      expected: { attributed: false, reason: 'baseline-unhealthy', detail: 'no baseline of api from before this deploy, so the failure cannot be attributed to it', escalate: true },
    },
    {
      name: 'baseline-unhealthy: the service was failing before (its fatal failures named, warnings not)',
      manifest,
      failure: healthFailed({
        baseline: {
          ...healthyBaseline,
          healthy: false,
          checks: [check('health', false, { error: 'status 500' }), check('ready', false, { error: null }), check('docs', false, { severity: 'warning', error: 'slow' })],
        },
      }),
      expected: {
        attributed: false,
        reason: 'baseline-unhealthy',
        detail: "api was already unhealthy before this deploy (2026-12-01T09:59:00.000Z: health: status 500; ready: failed); the failure is not this deployment's",
        escalate: true,
      },
    },
    {
      name: 'baseline-unhealthy comes before checks-not-owned',
      manifest,
      failure: healthFailed({ baseline: { ...healthyBaseline, healthy: false, checks: [check('health', false)] }, checks: [check('db', false)] }),
      expected: {
        attributed: false,
        reason: 'baseline-unhealthy',
        detail: "api was already unhealthy before this deploy (2026-12-01T09:59:00.000Z: health: connection refused); the failure is not this deployment's",
        escalate: true,
      },
    },
    {
      name: 'checks-not-owned: a failing fatal check that is not one of the service',
      manifest,
      failure: healthFailed({ checks: [check('health', false), check('db', false), check('queue', false)] }),
      expected: { attributed: false, reason: 'checks-not-owned', detail: 'failing checks db, queue are not checks of api', escalate: true },
    },
    {
      name: 'checks-not-owned: no failing fatal check at all (only a warning failed)',
      manifest,
      failure: healthFailed({ checks: [check('health', true), check('docs', false, { severity: 'warning' })] }),
      expected: { attributed: false, reason: 'checks-not-owned', detail: 'health.failed names no failing fatal check', escalate: true },
    },
    {
      name: 'revert-of-revert: the deployed merge commit is itself a revert',
      manifest,
      failure: healthFailed(),
      messages: { [MERGE]: revertMessage },
      expected: { attributed: false, reason: 'revert-of-revert', detail: '111111111111 is itself a revert of 444444444444; agentbus does not revert a revert on its own', escalate: true },
    },
    {
      name: 'attributed: a check of the service failed after a healthy baseline',
      manifest,
      failure: healthFailed(),
      expected: { attributed: true, reason: 'health check failed after deploy of feature/x: health http://127.0.0.1:9400/health: connection refused', failingChecks: ['health'] },
    },
    {
      name: 'attributed: every failing fatal check named, a failed warning not',
      manifest,
      failure: healthFailed({ checks: [check('health', false, { error: 'status 503' }), check('ready', false, { error: null }), check('docs', false, { severity: 'warning' })] }),
      expected: {
        attributed: true,
        reason: 'health check failed after deploy of feature/x: health http://127.0.0.1:9400/health: status 503; ready http://127.0.0.1:9400/ready: failed',
        failingChecks: ['health', 'ready'],
      },
    },
    {
      name: 'attributed: a metric check of the service failed while every HTTP check passed; an inconclusive or preexisting one is not a failure',
      manifest,
      failure: healthFailed({ checks: [check('health', true), check('ready', true)], metrics: [metric('error-rate', 'failed', 'error-rate 0.4 > max 0.05; before the deploy 0'), metric('error-rate', 'inconclusive', 'x'), metric('error-rate', 'preexisting', 'y')] }),
      expected: { attributed: true, reason: 'metric check failed after deploy of feature/x: error-rate 0.4 > max 0.05; before the deploy 0', failingChecks: ['error-rate'] },
    },
    {
      name: 'attributed: found by a follow-up, which the reason names',
      manifest,
      foundBy: 'the +4 h follow-up',
      failure: healthFailed(),
      expected: { attributed: true, reason: 'health check failed after deploy of feature/x (found by the +4 h follow-up): health http://127.0.0.1:9400/health: connection refused', failingChecks: ['health'] },
    },
    {
      name: 'checks-not-owned: a failing metric check the service does not have',
      manifest,
      failure: healthFailed({ checks: [check('health', true)], metrics: [metric('latency-p95', 'failed', 'latency-p95 2.4 > max 0.3')] }),
      expected: { attributed: false, reason: 'checks-not-owned', detail: 'failing checks latency-p95 are not checks of api', escalate: true },
    },
    {
      name: 'checks-not-owned: nothing failed (inconclusive metrics only)',
      manifest,
      failure: healthFailed({ checks: [check('health', true)], metrics: [metric('error-rate', 'inconclusive', 'error-rate: no data')] }),
      expected: { attributed: false, reason: 'checks-not-owned', detail: 'health.failed names no failing fatal check', escalate: true },
    },
  ];

  for (const row of rows) {
    test(row.name, async () => {
      const state = row.tampered ? tamperedState() : await memoryStateStore(row.manifest ? { 'releases/api': row.manifest } : {});
      const attribution = await attributeFailure(row.failure, service, state, clone({ messages: row.messages }), row.foundBy);
      if (row.tampered) assert.deepEqual(!attribution.attributed && attribution.chainBreak, { path: 'releases/api', number: 1, reason: 'data-changed', message: "releases/api fails verification: version 1's data was changed after it was written" }, 'a chain-break escalation names the document and version');
      assert.deepEqual(decisionOf(attribution), row.expected);
      if (attribution.attributed) assert.deepEqual(attribution.manifest, row.manifest, 'the manifest rolled back is the one recorded');
    });
  }

  test('every skip reason of rollback.skipped has a row', () => {
    const reasons = new Set(rows.flatMap((row) => (row.expected.attributed ? [] : [row.expected.reason])));
    assert.deepEqual([...reasons].sort(), [...RollbackSkipReasons].sort());
  });
});

describe('attributeDeployFailure: a deploy command that failed', () => {
  function deployFailed(overrides: Partial<DataInput<AgentbusRegistry, 'deploy.failed'>> = {}) {
    return validateData(agentbusRegistry, 'deploy.failed', {
      deploymentId: 'dep-1',
      service: 'api',
      ref: 'feature/x',
      requestedBy: 'coder',
      branch: 'main',
      stage: 'deploy-command',
      error: 'deploy command exited 1',
      mergeCommit: MERGE,
      previousCommit: PREVIOUS,
      pushed: true,
      ...overrides,
    });
  }

  const rows: Array<{ name: string; failure: ReturnType<typeof deployFailed>; facts?: Parameters<typeof clone>[0]; expected: Expected | null }> = [
    { name: 'nothing to roll back: the merge never reached the remote', failure: deployFailed({ stage: 'push', pushed: false }), expected: null },
    { name: 'nothing to roll back: pushed, but the failure is not the deploy command', failure: deployFailed({ stage: 'manifest' }), expected: null },
    { name: 'nothing to roll back: no merge commit known', failure: deployFailed({ mergeCommit: undefined }), expected: null },
    {
      name: 'already-rolled-back: the merge was reverted already, and nobody is asked',
      failure: deployFailed(),
      facts: { remoteHead: NEWER, revertOf: { [MERGE]: NEWER } },
      expected: { attributed: false, reason: 'already-rolled-back', detail: '111111111111 was already reverted', escalate: false },
    },
    {
      name: 'not-latest-deployment: the branch moved on',
      failure: deployFailed(),
      facts: { remoteHead: NEWER },
      expected: { attributed: false, reason: 'not-latest-deployment', detail: 'the deploy command failed on 111111111111, but main has moved on to 333333333333; reverting now would undo newer work', escalate: true },
    },
    {
      name: 'not-latest-deployment: the remote branch is gone',
      failure: deployFailed(),
      facts: {},
      expected: { attributed: false, reason: 'not-latest-deployment', detail: 'the deploy command failed on 111111111111, but main has moved on to nothing; reverting now would undo newer work', escalate: true },
    },
    {
      name: 'revert-of-revert: the merge that failed to deploy is a revert',
      failure: deployFailed(),
      facts: { remoteHead: MERGE, messages: { [MERGE]: revertMessage } },
      expected: { attributed: false, reason: 'revert-of-revert', detail: '111111111111 is itself a revert of 444444444444; agentbus does not revert a revert on its own', escalate: true },
    },
    {
      name: 'attributed: the branch is still at the merge',
      failure: deployFailed(),
      facts: { remoteHead: MERGE },
      expected: { attributed: true, reason: 'the deploy command failed after the merge was pushed: deploy command exited 1', failingChecks: [] },
    },
  ];

  for (const row of rows) {
    test(row.name, async () => {
      const attribution = await attributeDeployFailure(row.failure, 'corr-1', AT, clone(row.facts));
      assert.deepEqual(attribution && decisionOf(attribution), row.expected);
      if (attribution?.attributed) assert.deepEqual(attribution.manifest, manifest, 'the manifest is built from the failure');
    });
  }
});

describe('attributeRequest: a rollback asked for by name (by a release)', () => {
  const request = { deploymentId: 'dep-1', reason: 'release rel-1 is rolled back as a whole', quarantine: false };
  test('the latest deployment is rolled back, quarantined only when the request says its change was found bad', async () => {
    const state = await memoryStateStore({ 'releases/api': manifest });
    const undone = await attributeRequest(request, service, state, clone());
    assert.deepEqual(undone, { attributed: true, manifest, failingChecks: [], reason: 'release rel-1 is rolled back as a whole', quarantine: false });
    const culprit = await attributeRequest({ ...request, quarantine: true }, service, state, clone());
    assert.ok(culprit.attributed && !('quarantine' in culprit), 'a culprit is quarantined as after its own failed check');
  });
  test('a deployment that is not the latest, rolled back already, a revert, or unknown is not rolled back', async () => {
    const rows: Array<[string, Record<string, unknown>, ReturnType<typeof clone>, Expected]> = [
      ['not latest', { 'releases/api': { ...manifest, deploymentId: 'dep-2' } }, clone(), { attributed: false, reason: 'not-latest-deployment', detail: 'deployment dep-1 is no longer the latest of api (now dep-2); rolling it back would undo newer work', escalate: true }],
      ['rolled back', { 'releases/api': { ...manifest, status: 'rolled-back', rolledBackAt: AT } }, clone(), { attributed: false, reason: 'already-rolled-back', detail: `deployment dep-1 was already rolled back at ${AT}`, escalate: false }],
      ['a revert', { 'releases/api': manifest }, clone({ messages: { [MERGE]: revertMessage } }), { attributed: false, reason: 'revert-of-revert', detail: `${MERGE.slice(0, 12)} is itself a revert of ${REVERTED.slice(0, 12)}; agentbus does not revert a revert on its own`, escalate: true }],
      ['unknown', {}, clone(), { attributed: false, reason: 'unknown-deployment', detail: 'no release manifest for api: agentbus did not deploy it, so it cannot tell what to roll back', escalate: true }],
    ];
    for (const [name, documents, repo, expected] of rows) {
      assert.deepEqual(decisionOf(await attributeRequest(request, service, await memoryStateStore(documents), repo)), expected, name);
    }
  });
});
