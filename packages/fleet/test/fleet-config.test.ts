import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { tempDir } from '@agentbus/testkit';
import type { MetricCheckInput } from '@agentbus/health';
import { findService, fleetConfigSchema, isFleetError, loadFleetConfig, parseFleetConfig, type FleetConfigInput, type FleetServiceInput } from '@agentbus/fleet';

const examplePath = fileURLToPath(import.meta.resolve('@agentbus/infra/config/agentbus.example.json'));

function service(overrides: Partial<FleetServiceInput> = {}): FleetServiceInput {
  return {
    name: 'api',
    git: { path: 'clones/api' },
    deploy: { command: ['node', 'deploy.mjs'] },
    health: { checks: [{ name: 'health', url: 'http://127.0.0.1:8080/health' }] },
    ...overrides,
  };
}

function problemsOf(error: unknown): string[] {
  assert.ok(isFleetError(error, 'config-invalid'), `expected config-invalid, got ${String(error)}`);
  assert.match(error.hint ?? '', /infra\/config\/README\.md/);
  return (error.details.problems as { path: string; message: string }[]).map((problem) => `${problem.path}: ${problem.message}`);
}

test('the example file in infra/config loads, with defaults filled in', () => {
  const config = loadFleetConfig(examplePath);
  const [primerouter] = config.services;
  assert.equal(config.version, 1);
  assert.equal(primerouter?.name, 'primerouter');
  assert.deepEqual(primerouter?.deploy.command, ['systemctl', 'restart', 'primerouter']);
  assert.equal(primerouter?.deploy.cwd, '/srv/primerouter', 'the command runs in the working clone');
  assert.equal(primerouter?.health.stabilizationMs, 60_000);
  assert.deepEqual(primerouter?.health.checks.map((check) => [check.name, check.severity]), [['health', 'fatal'], ['home-page', 'warning']]);
  assert.equal(primerouter?.health.checks[1]?.expectStatus, 200);
  assert.equal(primerouter?.rollback.strategy, 'git-revert');
});

test('defaults follow seed 000 and relative paths are relative to the file', () => {
  const dir = tempDir('agentbus-fleet-');
  const file = join(dir, 'agentbus.json');
  writeFileSync(file, JSON.stringify({ services: [service({ deploy: { command: ['./deploy.sh'], cwd: 'scripts' } })] }));
  const [api] = loadFleetConfig(file).services;
  assert.equal(api?.git.path, join(dir, 'clones/api'));
  assert.equal(api?.deploy.cwd, join(dir, 'scripts'));
  assert.deepEqual(
    { branch: api?.git.branch, remote: api?.git.remote, deployTimeout: api?.deploy.timeoutMs },
    { branch: 'main', remote: 'origin', deployTimeout: 300_000 },
  );
  assert.deepEqual(
    { ...api?.health, checks: undefined },
    { checks: undefined, stabilizationMs: 60_000, probes: 5, probeIntervalMs: 2_000, consecutiveFailures: 3, metrics: [], followupOffsetsMs: [3_600_000, 14_400_000, 43_200_000] },
  );
  assert.deepEqual(api?.rollback, { strategy: 'git-revert', healthyWithinMs: 60_000 });
  assert.deepEqual(api?.health.checks[0], { name: 'health', url: 'http://127.0.0.1:8080/health', expectStatus: 200, severity: 'fatal', timeoutMs: 5_000 });
});

test('every schema problem is reported together, each naming its field path', () => {
  const input = {
    services: [
      service(),
      {
        ...service({ name: 'Bad Name' }),
        git: { path: 'x', branch: '-delete' },
        deploy: { command: 'systemctl restart api' },
        health: {
          stabilisationMs: 0,
          checks: [{ name: 'h', url: 'ftp://host/health', severity: 'critical' }],
        },
        rollback: { strategy: 'reset-hard' },
      },
    ],
    notifications: { slack: '#ops' },
    alerting: true,
  };
  assert.throws(
    () => parseFleetConfig(input, { source: 'agentbus.json' }),
    (error) => {
      const problems = problemsOf(error);
      const expected = [
        /^services\[1\]\.name: lower-case letters/,
        /^services\[1\]\.git\.branch: not a valid branch name: starts with "-"/,
        /^services\[1\]\.deploy\.command: expected an array of strings \(argv, run without a shell\)/,
        /^services\[1\]\.health\.checks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL$/,
        /^services\[1\]\.health\.checks\[0\]\.severity: /,
        /^services\[1\]\.health\.stabilisationMs: unknown field; did you mean "stabilizationMs"\?$/,
        /^services\[1\]\.rollback\.strategy: /,
        /^notifications\.slack: unknown field; known fields: timeoutMs, pagerduty, chat, ticket$/,
        /^alerting: unknown field; known fields: \$schema, version, services, notifications, escalation, watchdog, postmortems, prometheus$/,
      ];
      for (const pattern of expected) assert.ok(problems.some((problem) => pattern.test(problem)), `${pattern} in:\n${problems.join('\n')}`);
      assert.equal(problems.length, expected.length, problems.join('\n'));
      assert.match((error as Error).message, /^invalid agentbus\.json \(9 problems\):\n {2}services\[1\]\./);
      return true;
    },
  );
});

test('problems across fields: duplicate names and clones, duplicate checks, consecutiveFailures above probes', () => {
  const input: FleetConfigInput = {
    services: [
      service(),
      service({ health: { probes: 2, consecutiveFailures: 3, checks: [{ name: 'h', url: 'http://a/h' }, { name: 'h', url: 'http://a/i' }] } }),
    ],
  };
  assert.throws(
    () => parseFleetConfig(input),
    (error) => {
      assert.deepEqual(problemsOf(error), [
        'services[1].name: "api" is already the name of services[0]',
        `services[1].git.path: ${join(process.cwd(), 'clones/api')} is already the working clone of services[0] (api); each service needs its own clone`,
        'services[1].health.checks[1].name: "h" is already the name of checks[0]',
        'services[1].health.consecutiveFailures: 3 is more than health.probes (2), so no check could ever fail',
      ]);
      return true;
    },
  );
});

test('metric checks and follow-ups: a clear problem for each bad field, and metric checks need a Prometheus', () => {
  const metrics: MetricCheckInput[] = [
    { name: 'error-rate', query: 'sum(rate(errors_total[1m]))', max: 0.05, baseline: { maxRatio: 2 } },
    { name: 'health', query: 'up', max: 1 },
    { name: 'nothing-judged', query: 'up' } as MetricCheckInput,
    { name: 'both', query: 'count by (type) (errors_total)', newSeries: true, max: 1 },
    { name: 'empty-rule', query: 'up', baseline: {} },
    { name: 'inverted', query: 'up', min: 2, max: 1 },
    { name: 'blank', query: '   ', max: 1 },
  ];
  const input = { services: [service({ health: { checks: [{ name: 'health', url: 'http://a/h' }], metrics, followupOffsetsMs: [3_600_000, -5, 1_000, 8 * 86_400_000] } })] } as FleetConfigInput;
  assert.throws(
    () => parseFleetConfig(input),
    (error) => {
      assert.deepEqual(problemsOf(error), [
        'services[0].health.metrics[2]: say what a good value is: max, min, baseline {maxRatio, maxIncrease}, or newSeries: true',
        'services[0].health.metrics[3]: newSeries judges the series a query returns, not a value: leave out max, min and baseline',
        'services[0].health.metrics[4].baseline: give maxRatio, maxIncrease or both',
        'services[0].health.metrics[5]: min 2 is above max 1',
        'services[0].health.metrics[6].query: Too small: expected string to have >=1 characters',
        'services[0].health.followupOffsetsMs[1]: a follow-up comes after the verdict: give a positive number of milliseconds',
        'services[0].health.followupOffsetsMs[3]: 691200000 ms is more than 7 days after the deploy',
      ]);
      return true;
    },
  );
  const valid = { services: [service({ health: { checks: [{ name: 'health', url: 'http://a/h' }], metrics: metrics.slice(0, 2), followupOffsetsMs: [4_000, 2_000, 8 * 86_400_000] } })] } as FleetConfigInput;
  assert.throws(
    () => parseFleetConfig(valid),
    (error) => {
      assert.deepEqual(problemsOf(error), [
        'services[0].health.followupOffsetsMs[1]: 2000 ms is not after the follow-up before it (4000 ms): list them in increasing order',
        'services[0].health.followupOffsetsMs[2]: 691200000 ms is more than 7 days after the deploy',
      ]);
      return true;
    },
  );
  const ordered = { services: [service({ health: { checks: [{ name: 'health', url: 'http://a/h' }], metrics: metrics.slice(0, 2), followupOffsetsMs: [2_000, 4_000] } })] } as FleetConfigInput;
  assert.throws(
    () => parseFleetConfig(ordered),
    (error) => {
      assert.deepEqual(problemsOf(error), [
        'services[0].health.metrics[1].name: "health" is already the name of checks[0]',
        'services[0].health.metrics: metric checks need a Prometheus: add "prometheus": { "url": "http://…:9090" } at the top of the file',
      ]);
      return true;
    },
  );
  assert.throws(() => parseFleetConfig({ ...ordered, prometheus: { url: 'localhost:9090' } }), (error) => /prometheus\.url: expected the http:\/\/ or https:\/\/ base URL of a Prometheus server/.test(problemsOf(error).join('\n')));
  const fine = parseFleetConfig({ services: [service({ health: { checks: [{ name: 'health', url: 'http://a/h' }], metrics: metrics.slice(0, 1), followupOffsetsMs: [] } })], prometheus: { url: 'http://127.0.0.1:9090' } });
  assert.deepEqual(fine.prometheus, { url: 'http://127.0.0.1:9090', timeoutMs: 5_000, retries: 3, retryIntervalMs: 2_000 });
  assert.deepEqual(fine.services[0]?.health.metrics, [{ ...metrics[0], severity: 'fatal', noData: 'inconclusive' }]);
  assert.deepEqual(fine.services[0]?.health.followupOffsetsMs, []);
});

test('a missing file, a file that is not JSON (with line and column) and an unknown service are named', () => {
  const dir = tempDir('agentbus-fleet-');
  assert.throws(() => loadFleetConfig(join(dir, 'nope.json')), (error) => isFleetError(error, 'config-not-found') && /no such file/.test(error.message) && /agentbus\.example\.json/.test(error.hint ?? ''));
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{\n  "services": [\n    { "name": "api", }\n  ]\n}\n');
  assert.throws(() => loadFleetConfig(broken), (error) => isFleetError(error, 'config-invalid') && /is not valid JSON at line 3, column 22: Expected double-quoted property name/.test(error.message));
  const truncated = join(dir, 'truncated.json');
  writeFileSync(truncated, '{\n  "services": [');
  assert.throws(() => loadFleetConfig(truncated), (error) => isFleetError(error, 'config-invalid') && /line 2, column 16: the file ends too early/.test(error.message));
  const config = parseFleetConfig({ services: [service()] });
  assert.equal(findService(config, 'api').name, 'api');
  assert.throws(() => findService(config, 'web'), (error) => isFleetError(error, 'unknown-service') && error.hint === 'known services: api');
});

test('a later section is added by extending the schema, not by loosening it', () => {
  const extended = fleetConfigSchema.extend({ dashboards: z.strictObject({ webhookUrl: z.url() }).optional() });
  const config = parseFleetConfig({ services: [service()], dashboards: { webhookUrl: 'https://hooks.example/x' } }, { schema: extended });
  assert.equal(config.dashboards?.webhookUrl, 'https://hooks.example/x');
  assert.equal(config.services[0]?.deploy.cwd, join(process.cwd(), 'clones/api'), 'paths are resolved with an extended schema too');
  assert.throws(
    () => parseFleetConfig({ services: [service()], dashboards: { webhookUrl: 'nope' } }, { schema: extended }),
    (error) => problemsOf(error).some((problem) => problem.startsWith('dashboards.webhookUrl: ')),
  );
});

test('a PagerDuty routing key in the file is checked when the registry is loaded: 32 letters and digits, never shown in the error', () => {
  const key = 'e93facc04764012d7bfb002500d5d1a6';
  const config = parseFleetConfig({ services: [], notifications: { pagerduty: { routingKey: key } } });
  assert.equal(config.notifications.pagerduty?.routingKey, key);
  assert.deepEqual(parseFleetConfig({ services: [], notifications: { pagerduty: { routingKey: { env: 'PD_KEY' } } } }).notifications.pagerduty?.routingKey, { env: 'PD_KEY' }, 'a key from the environment is checked when the notifier reads it');
  const cases: Array<[string, RegExp]> = [
    ['R0UT1NG', /this one has 7 characters$/],
    [`${key}\n`, /this one has 33 characters, with a space or a line break in it$/],
    [`${key.slice(0, 31)}-`, /this one has 32 characters, with characters other than letters and digits$/],
    [`${key}${key}`, /this one has 64 characters$/],
  ];
  for (const [wrong, expected] of cases) {
    assert.throws(
      () => parseFleetConfig({ services: [], notifications: { pagerduty: { routingKey: wrong } } }),
      (error) => {
        const [problem, ...others] = problemsOf(error);
        assert.equal(others.length, 0);
        assert.match(problem!, /^notifications\.pagerduty\.routingKey: not a PagerDuty routing key: PagerDuty takes the 32 letters and digits of an Events API v2 integration's Integration Key/);
        assert.match(problem!, expected);
        assert.ok(!JSON.stringify({ message: (error as Error).message, details: (error as { details: unknown }).details }).includes(wrong.trim()), 'the key is never shown');
        return true;
      },
    );
  }
});

test('ticket labels GitHub would refuse are refused when the registry is loaded: over 50 characters, more than 100, not one line', () => {
  const ticket = (labels: string[]) => ({ services: [], notifications: { ticket: { url: 'https://api.github.com/repos/o/r/issues', labels } } });
  assert.deepEqual(parseFleetConfig(ticket(['incident', 'l'.repeat(50)])).notifications.ticket?.labels, ['incident', 'l'.repeat(50)]);
  assert.throws(() => parseFleetConfig(ticket(['l'.repeat(51)])), (error) => problemsOf(error).join() === 'notifications.ticket.labels[0]: GitHub refuses a label name over 50 characters');
  assert.throws(() => parseFleetConfig(ticket(['a\nb'])), (error) => problemsOf(error).join() === 'notifications.ticket.labels[0]: a label is one line of text, without control characters');
  assert.throws(() => parseFleetConfig(ticket(Array.from({ length: 101 }, (_, i) => `l${i}`))), (error) => problemsOf(error).join() === 'notifications.ticket.labels: GitHub takes at most 100 labels on an issue');
});
