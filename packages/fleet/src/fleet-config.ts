import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { configProblems, type ConfigProblem } from './config-issues.ts';
import { FleetError } from './errors.ts';
import { fleetConfigSchema, type FleetService, type Secret } from './fleet-schema.ts';

const CONFIG_HINT = 'fix the named fields; every field is described in infra/config/README.md, with a full example in infra/config/agentbus.example.json';

/** fleetConfigSchema or a schema extended from it (`fleetConfigSchema.extend({ … })`). */
export type FleetConfigSchema = z.ZodType<z.output<typeof fleetConfigSchema>, z.input<typeof fleetConfigSchema>>;

/** A loaded configuration: the schema's output with every service's paths resolved. */
export type LoadedFleetConfig<S extends FleetConfigSchema = typeof fleetConfigSchema> = Omit<z.output<S>, 'services'> & { services: FleetService[] };

export interface FleetConfigOptions<S extends FleetConfigSchema> {
  /** Base of relative paths (git.path, deploy.cwd). loadFleetConfig: the file's directory; parseFleetConfig: the current directory. */
  baseDir?: string;
  /** Validate with this schema instead of fleetConfigSchema: for files with sections added later. */
  schema?: S;
  /** Names the configuration in error messages (loadFleetConfig passes the file path). */
  source?: string;
}

/**
 * Validates a parsed configuration. Returns it with defaults filled in, `git.path` and
 * `deploy.cwd` absolute (cwd defaults to the working clone). Throws FleetError `config-invalid`
 * listing every problem, each naming its field path (`services[1].deploy.command: …`); the
 * problems are also in `details.problems`. Checks beyond the schema: unique service names, unique
 * check names per service (HTTP and metric checks together), one working clone per service,
 * consecutiveFailures ≤ probes, a `prometheus` section when a service has metric checks.
 */
export function parseFleetConfig<S extends FleetConfigSchema = typeof fleetConfigSchema>(json: unknown, options: FleetConfigOptions<S> = {}): LoadedFleetConfig<S> {
  const schema: FleetConfigSchema = options.schema ?? fleetConfigSchema;
  const source = options.source ?? 'fleet configuration';
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw invalidConfig(source, configProblems(parsed.error, schema));
  const baseDir = resolve(options.baseDir ?? '.');
  const services = parsed.data.services.map((service): FleetService => {
    const path = resolve(baseDir, service.git.path);
    return { ...service, git: { ...service.git, path }, deploy: { ...service.deploy, cwd: service.deploy.cwd ? resolve(baseDir, service.deploy.cwd) : path } };
  });
  const problems = crossFieldProblems(services);
  const withMetrics = services.findIndex((service) => service.health.metrics.length > 0);
  if (withMetrics >= 0 && !parsed.data.prometheus) {
    problems.push({ path: `services[${withMetrics}].health.metrics`, message: 'metric checks need a Prometheus: add "prometheus": { "url": "http://…:9090" } at the top of the file' });
  }
  if (problems.length) throw invalidConfig(source, problems);
  const postmortems = { ...parsed.data.postmortems, dir: resolve(baseDir, parsed.data.postmortems.dir) };
  return { ...(parsed.data as z.output<S>), services, postmortems };
}

/**
 * Reads and validates the configuration file at `path`; relative paths in it are relative to the
 * file. Throws FleetError `config-not-found` (missing or unreadable) or `config-invalid` (not
 * JSON — with line and column — or failing the schema, every problem named).
 */
export function loadFleetConfig<S extends FleetConfigSchema = typeof fleetConfigSchema>(path: string, options: Omit<FleetConfigOptions<S>, 'source'> = {}): LoadedFleetConfig<S> {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FleetError('config-not-found', `cannot read the fleet configuration ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`, {
      hint: 'create it from infra/config/agentbus.example.json, or give the path of the existing file',
      cause: error,
      details: { path: file },
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const { line, column, reason } = locateJsonError(text, error as SyntaxError);
    throw new FleetError('config-invalid', `${file} is not valid JSON at line ${line}, column ${column}: ${reason}`, {
      hint: 'fix the JSON syntax there (no comments, no trailing commas, double-quoted names and strings)',
      cause: error,
      details: { path: file, problems: [{ path: '(root)', message: `not JSON at line ${line}, column ${column}: ${reason}` }] },
    });
  }
  return parseFleetConfig(json, { ...options, baseDir: options.baseDir ?? dirname(file), source: file });
}

/** The service named `name`, or FleetError `unknown-service` listing the known names. */
export function findService(config: { services: readonly FleetService[] }, name: string): FleetService {
  const service = config.services.find((candidate) => candidate.name === name);
  if (!service) {
    throw new FleetError('unknown-service', `no service "${name}" in the fleet configuration`, {
      hint: `known services: ${config.services.map((candidate) => candidate.name).join(', ')}`,
      details: { service: name },
    });
  }
  return service;
}

function crossFieldProblems(services: readonly FleetService[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  services.forEach((service, index) => {
    const at = `services[${index}]`;
    const sameName = services.findIndex((other) => other.name === service.name);
    if (sameName < index) problems.push({ path: `${at}.name`, message: `"${service.name}" is already the name of services[${sameName}]` });
    const sameClone = services.findIndex((other) => other.git.path === service.git.path);
    if (sameClone < index) problems.push({ path: `${at}.git.path`, message: `${service.git.path} is already the working clone of services[${sameClone}] (${services[sameClone]?.name}); each service needs its own clone` });
    service.health.checks.forEach((check, checkIndex) => {
      const first = service.health.checks.findIndex((other) => other.name === check.name);
      if (first < checkIndex) problems.push({ path: `${at}.health.checks[${checkIndex}].name`, message: `"${check.name}" is already the name of checks[${first}]` });
    });
    // One namespace: a verdict names its failing checks, HTTP and metric alike.
    service.health.metrics.forEach((check, checkIndex) => {
      const http = service.health.checks.findIndex((other) => other.name === check.name);
      const first = service.health.metrics.findIndex((other) => other.name === check.name);
      if (http >= 0) problems.push({ path: `${at}.health.metrics[${checkIndex}].name`, message: `"${check.name}" is already the name of checks[${http}]` });
      else if (first < checkIndex) problems.push({ path: `${at}.health.metrics[${checkIndex}].name`, message: `"${check.name}" is already the name of metrics[${first}]` });
    });
    if (service.health.consecutiveFailures > service.health.probes) {
      problems.push({
        path: `${at}.health.consecutiveFailures`,
        message: `${service.health.consecutiveFailures} is more than health.probes (${service.health.probes}), so no check could ever fail`,
      });
    }
  });
  return problems;
}

function invalidConfig(source: string, problems: ConfigProblem[]): FleetError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new FleetError('config-invalid', `invalid ${source} (${count}):\n${problems.map((problem) => `  ${problem.path}: ${problem.message}`).join('\n')}`, {
    hint: CONFIG_HINT,
    details: { source, problems },
  });
}

/** Line and column (1-based) of a JSON.parse error, from the position V8 reports. */
function locateJsonError(text: string, error: SyntaxError): { line: number; column: number; reason: string } {
  const position = /at position (\d+)/.exec(error.message);
  const offset = position ? Number(position[1]) : text.length;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  const reason = error.message.replace(/\s*in JSON at position \d+.*$/, '').replace(/^Unexpected end of JSON input$/, 'the file ends too early');
  return { line, column, reason };
}

/**
 * The value of a secret from the registry (see secretSchema): the string itself, or the named
 * environment variable. Throws FleetError `config-invalid` naming the field and the variable.
 */
export function resolveSecret(secret: Secret, field: string, env: Record<string, string | undefined>): string {
  if (typeof secret === 'string') return secret;
  const value = env[secret.env];
  if (value === undefined || value === '') {
    throw new FleetError('config-invalid', `${field}: the environment variable ${secret.env} is not set`, {
      hint: `set ${secret.env}, or write the value in the file`,
      details: { problems: [{ path: field, message: `environment variable ${secret.env} is not set` }] },
    });
  }
  return value;
}

/** The environment variable naming the registry file: the services' (required) and the CLI's (`up` has a default). */
/**
 * Where the service registry is, for commands that find it themselves (`agentbus up`, `agentbus
 * lockdown scan`): `registryPath` when given (AGENTBUS_CONFIG), else ./agentbus.config.json, else
 * `<home>/agentbus.config.json` (which `up` creates empty when missing). `exists` says whether
 * the file is there.
 */
export function locateRegistry(options: { registryPath: string | undefined; home: string }): { path: string; exists: boolean } {
  if (options.registryPath) return { path: resolve(options.registryPath), exists: existsSync(resolve(options.registryPath)) };
  if (existsSync('agentbus.config.json')) return { path: resolve('agentbus.config.json'), exists: true };
  const path = join(options.home, 'agentbus.config.json');
  return { path, exists: existsSync(path) };
}

export const fleetEnvSchema = z.object({
  AGENTBUS_CONFIG: z.string({ error: 'required: the path of the service registry file (see infra/config/agentbus.example.json)' }).min(1),
});

/**
 * The service registry as a service resource (@agentbus/runtime's ServiceResource): the file
 * AGENTBUS_CONFIG names, loaded once at start (FleetError `config-not-found` or `config-invalid`
 * stops the start).
 */
export const fleetResource = {
  env: fleetEnvSchema,
  open: (env: z.output<typeof fleetEnvSchema>): LoadedFleetConfig => loadFleetConfig(env.AGENTBUS_CONFIG),
};
