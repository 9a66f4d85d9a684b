/**
 * The source of the demo service's `server.mjs` on each branch of its repository. The branches
 * differ by a few lines, as real feature branches do, so merges, reverts and post-mortem diffs
 * are small and readable.
 */
export const ServiceVersions = {
  /** main: `/` and `/health` answer `{"status":"ok"}`. */
  base: 'base',
  /** A good change: adds `/status`; health stays ok. */
  good: 'good',
  /** Seed 000: /health reads a channel that does not exist, the process crashes, later probes are refused. */
  broken: 'broken',
  /** /health answers 500 once after start (a cache warming up), then ok: one flaky probe. */
  flaky: 'flaky',
  /** Reads a config file that is not in the repository and exits before listening: the deploy command fails. */
  crashOnStart: 'crashOnStart',
} as const;
export type ServiceVersion = (typeof ServiceVersions)[keyof typeof ServiceVersions];

export function serverSource(serviceName: string, version: ServiceVersion): string {
  const semver = version === 'base' ? '1.0.0' : '1.1.0';
  const imports = version === 'crashOnStart' ? `import { existsSync, readFileSync } from 'node:fs';` : `import { existsSync } from 'node:fs';`;
  const startup =
    version === 'crashOnStart'
      ? `\n// Routing limits now come from a config file.\nconst config = JSON.parse(readFileSync(new URL('./config/limits.json', import.meta.url), 'utf8'));\nconsole.log('limits', config);\n`
      : version === 'broken'
        ? `\n// Phase 2: the humanrail channel joins the channels /health reports on.\nconst channels = new Map([['discord', { status: 'ok' }]]);\n`
        : version === 'flaky'
          ? `\n// The cache warms up on the first health request.\nlet cacheWarm = false;\n`
          : '';
  const healthy =
    version === 'broken'
      ? `return [200, { status: 'ok', version: VERSION, humanrail: channels.get('humanrail').status }];`
      : version === 'flaky'
        ? `if (!cacheWarm) {\n      cacheWarm = true;\n      return [500, { status: 'error', reason: 'cache warming up' }];\n    }\n    return [200, { status: 'ok', version: VERSION }];`
        : `return [200, { status: 'ok', version: VERSION }];`;
  const extraRoute = version === 'good' ? `\n  '/status': () => [200, { service: '${serviceName}', version: VERSION, uptimeSeconds: Math.round(process.uptime()) }],` : '';
  return `// ${serviceName}: a small HTTP service, deployed and watched by agentbus.
import { createServer } from 'node:http';
${imports}

const VERSION = '${semver}';
const port = Number(process.env.PORT ?? 9400);
const dependencyFlag = process.env.DEMO_DEPENDENCY_FLAG_FILE;
${startup}
const routes = {
  '/': () => [200, { service: '${serviceName}', version: VERSION }],
  '/health': () => {
    if (dependencyFlag && existsSync(dependencyFlag)) return [503, { status: 'degraded', reason: 'upstream dependency unavailable' }];
    ${healthy}
  },${extraRoute}
};

// Requests answered, by path and status, in Prometheus' text format on /metrics.
const answered = new Map();
const metrics = () =>
  '# HELP demo_http_requests_total Requests answered, by path and status code.\\n# TYPE demo_http_requests_total counter\\n' +
  [...answered].map(([key, count]) => {
    const [path, code] = key.split(' ');
    return \`demo_http_requests_total{path="\${path}",code="\${code}"} \${count}\\n\`;
  }).join('');

createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/metrics') {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(metrics());
    return;
  }
  const route = routes[path];
  const [status, body] = route ? route() : [404, { error: 'not found' }];
  const key = \`\${route ? path : 'other'} \${status}\`;
  answered.set(key, (answered.get(key) ?? 0) + 1);
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}).listen(port, '127.0.0.1', () => console.log(\`${serviceName} \${VERSION} listening on \${port}\`));
`;
}
