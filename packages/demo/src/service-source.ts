/**
 * The source of the demo service's `server.mjs` on each branch of its repository. The branches
 * differ by a few lines, as real feature branches do, so merges, reverts and post-mortem diffs
 * are small and readable: everything every version has (the routes, the error-rate flag, the
 * metrics) is in the base source, and a version changes one spot of it.
 */
export const ServiceVersions = {
  /** main: `/` and `/health` answer `{"status":"ok"}`, `/api/route` answers `{"routed":true}`. */
  base: 'base',
  /** A good change: adds `/status`; health stays ok. */
  good: 'good',
  /** Seed 000: /health reads a channel that does not exist, the process crashes, later probes are refused. */
  broken: 'broken',
  /** /health answers 500 once after start (a cache warming up), then ok: one flaky probe. */
  flaky: 'flaky',
  /** Reads a config file that is not in the repository and exits before listening: the deploy command fails. */
  crashOnStart: 'crashOnStart',
  /** Every 2nd `/api/route` answers 500 (`demo_errors_total{type="upstream_timeout"}`); /health stays ok. */
  errorSpike: 'errorSpike',
  /** `/api/route` answers 200, but every 5th request counts an error of a new type, `alias_lookup_failed`; /health stays ok. */
  newErrorType: 'newErrorType',
  /** `/api/route` takes ~400 ms (a p95 latency regression); /health stays ok. */
  slow: 'slow',
  /**
   * Healthy for `DEMO_DEGRADE_AFTER_MS` (default 4000) after its start, then /health answers 503
   * (connection pool exhausted) and every 2nd `/api/route` answers 500 (`pool_exhausted`).
   */
  degradesLater: 'degradesLater',
} as const;
export type ServiceVersion = (typeof ServiceVersions)[keyof typeof ServiceVersions];

/** What each version adds to the base source, at its few spots; absent spots are base's. */
interface VersionChange {
  startup?: string;
  healthy?: string;
  extraRoute?: string;
  routing?: string;
}

function versionChange(serviceName: string, version: ServiceVersion): VersionChange {
  switch (version) {
    case 'base':
      return {};
    case 'good':
      return { extraRoute: `\n  '/status': () => [200, { service: '${serviceName}', version: VERSION, uptimeSeconds: Math.round(process.uptime()) }],` };
    case 'broken':
      return {
        startup: `\n// Phase 2: the humanrail channel joins the channels /health reports on.\nconst channels = new Map([['discord', { status: 'ok' }]]);\n`,
        healthy: `return [200, { status: 'ok', version: VERSION, humanrail: channels.get('humanrail').status }];`,
      };
    case 'flaky':
      return {
        startup: `\n// The cache warms up on the first health request.\nlet cacheWarm = false;\n`,
        healthy: `if (!cacheWarm) {\n      cacheWarm = true;\n      return [500, { status: 'error', reason: 'cache warming up' }];\n    }\n    return [200, { status: 'ok', version: VERSION }];`,
      };
    case 'crashOnStart':
      return {
        startup: `\n// Routing limits now come from a config file.\nconst config = JSON.parse(readFileSync(new URL('./config/limits.json', import.meta.url), 'utf8'));\nconsole.log('limits', config);\n`,
      };
    case 'errorSpike':
      return { routing: `// Bulk routing: every second message goes through the bulk upstream, which times out.\n    if (routed % 2 === 0) return failed('upstream_timeout');\n    ` };
    case 'newErrorType':
      return { routing: `// Channel aliases: every fifth message names an alias the lookup cannot resolve; it is routed anyway.\n    if (routed % 5 === 0) countError('alias_lookup_failed');\n    ` };
    case 'slow':
      return { routing: `// Route cache: rebuilt on every request, which takes ~400 ms.\n    return new Promise((answer) => setTimeout(answer, 400, [200, { routed: true }]));\n    ` };
    case 'degradesLater':
      return {
        startup: `\n// Connection pool: connections are taken and never given back, so it runs dry a while after the start.\nconst startedAt = Date.now();\nconst degradeAfterMs = Number(process.env.DEMO_DEGRADE_AFTER_MS ?? 4000);\nconst poolExhausted = () => Date.now() - startedAt >= degradeAfterMs;\n`,
        healthy: `if (poolExhausted()) return [503, { status: 'degraded', reason: 'connection pool exhausted' }];\n    return [200, { status: 'ok', version: VERSION }];`,
        routing: `if (poolExhausted() && routed % 2 === 0) return failed('pool_exhausted');\n    `,
      };
  }
}

export function serverSource(serviceName: string, version: ServiceVersion): string {
  const semver = version === 'base' ? '1.0.0' : '1.1.0';
  const change = versionChange(serviceName, version);
  const healthy = change.healthy ?? `return [200, { status: 'ok', version: VERSION }];`;
  return `// ${serviceName}: a small HTTP service, deployed and watched by agentbus.
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';

const VERSION = '${semver}';
const port = Number(process.env.PORT ?? 9400);
const dependencyFlag = process.env.DEMO_DEPENDENCY_FLAG_FILE;
const errorRateFlag = process.env.DEMO_ERROR_RATE_FLAG_FILE;
${change.startup ?? ''}
// Errors by type, for /metrics.
const errors = new Map([['upstream_timeout', 0]]);
const countError = (type) => errors.set(type, (errors.get(type) ?? 0) + 1);
const failed = (type) => {
  countError(type);
  return [500, { error: type }];
};

// The upstream fails a share of requests whatever the version (the error-rate flag file holds it,
// 0..1). Deterministic: each request adds the share, in thousandths, to a credit; a request that
// fills 1000 fails. 0.25 fails every 4th request.
let routed = 0;
let failureCredit = 0;
const upstreamFails = () => {
  const share = errorRateFlag && existsSync(errorRateFlag) ? Number(readFileSync(errorRateFlag, 'utf8')) : 0;
  failureCredit += Number.isFinite(share) ? Math.round(Math.min(Math.max(share, 0), 1) * 1000) : 0;
  if (failureCredit < 1000) return false;
  failureCredit -= 1000;
  return true;
};

const routes = {
  '/': () => [200, { service: '${serviceName}', version: VERSION }],
  '/health': () => {
    if (dependencyFlag && existsSync(dependencyFlag)) return [503, { status: 'degraded', reason: 'upstream dependency unavailable' }];
    ${healthy}
  },
  '/api/route': () => {
    routed += 1;
    if (upstreamFails()) return failed('upstream_timeout');
    ${change.routing ?? ''}return [200, { routed: true }];
  },${change.extraRoute ?? ''}
};

// Prometheus' text format on /metrics: requests answered by path and status, their durations
// (a histogram by path) and errors by type.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const answered = new Map();
const durations = new Map();
const observe = (path, seconds) => {
  const histogram = durations.get(path) ?? { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
  BUCKETS.forEach((le, i) => (histogram.buckets[i] += seconds <= le ? 1 : 0));
  histogram.sum += seconds;
  histogram.count += 1;
  durations.set(path, histogram);
};
const metrics = () =>
  '# HELP demo_http_requests_total Requests answered, by path and status code.\\n# TYPE demo_http_requests_total counter\\n' +
  [...answered].map(([key, count]) => {
    const [path, code] = key.split(' ');
    return \`demo_http_requests_total{path="\${path}",code="\${code}"} \${count}\\n\`;
  }).join('') +
  '# HELP demo_http_request_duration_seconds How long requests took to answer, by path.\\n# TYPE demo_http_request_duration_seconds histogram\\n' +
  [...durations].map(([path, { buckets, sum, count }]) =>
    BUCKETS.map((le, i) => \`demo_http_request_duration_seconds_bucket{path="\${path}",le="\${le}"} \${buckets[i]}\\n\`).join('') +
    \`demo_http_request_duration_seconds_bucket{path="\${path}",le="+Inf"} \${count}\\n\` +
    \`demo_http_request_duration_seconds_sum{path="\${path}"} \${sum}\\ndemo_http_request_duration_seconds_count{path="\${path}"} \${count}\\n\`,
  ).join('') +
  '# HELP demo_errors_total Errors, handled or answered with 500, by type.\\n# TYPE demo_errors_total counter\\n' +
  [...errors].map(([type, count]) => \`demo_errors_total{type="\${type}"} \${count}\\n\`).join('');

createServer((request, response) => {
  const started = performance.now();
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/metrics') {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(metrics());
    return;
  }
  const route = routes[path];
  // A route answers [status, body] or a promise of it; one that throws crashes the process (seed 000).
  Promise.resolve(route ? route() : [404, { error: 'not found' }]).then(([status, body]) => {
    const key = \`\${route ? path : 'other'} \${status}\`;
    answered.set(key, (answered.get(key) ?? 0) + 1);
    observe(route ? path : 'other', (performance.now() - started) / 1000);
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  });
}).listen(port, '127.0.0.1', () => console.log(\`${serviceName} \${VERSION} listening on \${port}\`));
`;
}
