import { z } from 'zod';
import { AgentbusError } from '@agentbus/contracts';
import { natsEnvShape } from '@agentbus/bus';
import type { ServiceResources } from './resource.ts';

/** Environment variables every service reads (through loadServiceConfig, nowhere else). */
export const runtimeEnvShape = {
  ...natsEnvShape,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port (the service logs which). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(30_000),
  /** How often the service writes its heartbeat (the bus watchdog's proof of life); 0: none. */
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * Set by a supervisor (agentbus up) to its own pid: the service stops by itself (draining, as on
   * SIGTERM) when it is no longer that process's child, so a supervisor that died leaves nothing behind.
   */
  AGENTBUS_SUPERVISOR_PID: z.coerce.number().int().positive().optional(),
};

const runtimeEnvSchema = z.object(runtimeEnvShape);
export type RuntimeEnv = z.infer<typeof runtimeEnvSchema>;

/** The variables of each declared resource, as its `env` schema outputs them. */
export type ResourceEnvs<R extends ServiceResources> = { [K in keyof R]: z.output<R[K]['env']> };

/**
 * Validates the runtime variables, the service's own and those of every declared resource in one
 * pass, so every problem is reported together, each naming its variable (once, however many
 * schemas name it). Empty variables count as unset. Throws AgentbusError `config-invalid`.
 */
export function loadServiceConfig<Shape extends z.ZodRawShape, R extends ServiceResources = Record<never, never>>(
  service: string,
  settingsShape: Shape,
  env: Record<string, string | undefined>,
  resources: R = {} as R,
): { runtime: RuntimeEnv; settings: z.infer<z.ZodObject<Shape>>; resources: ResourceEnvs<R> } {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const runtime = runtimeEnvSchema.safeParse(present);
  const settings = z.object(settingsShape).safeParse(present);
  const perResource = Object.entries(resources).map(([name, resource]) => [name, resource.env.safeParse(present)] as const);
  const issues = [runtime, settings, ...perResource.map(([, result]) => result)].flatMap((result) => (result.success ? [] : result.error.issues));
  if (issues.length > 0 || !runtime.success || !settings.success) {
    const problems = [...new Set(issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`))];
    throw new AgentbusError('config-invalid', `${service}: invalid configuration: ${problems.join('; ')}`, {
      hint: 'set or fix the named environment variables (README.md, "Configuration")',
      details: { problems },
    });
  }
  return {
    runtime: runtime.data,
    settings: settings.data as z.infer<z.ZodObject<Shape>>,
    resources: Object.fromEntries(perResource.map(([name, result]) => [name, result.data])) as ResourceEnvs<R>,
  };
}
