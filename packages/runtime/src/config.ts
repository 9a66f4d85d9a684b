import { z } from 'zod';
import { AgentbusError } from '@agentbus/contracts';

/** Environment variables every service reads (through loadServiceConfig, nowhere else). */
export const runtimeEnvShape = {
  NATS_URL: z.string({ error: 'required: the NATS server(s), e.g. nats://127.0.0.1:4222 (comma-separated for a cluster)' }).min(1),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port (the service logs which). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(30_000),
  /**
   * Set by a supervisor (agentbus up) to its own pid: the service stops by itself (draining, as on
   * SIGTERM) when it is no longer that process's child, so a supervisor that died leaves nothing behind.
   */
  AGENTBUS_SUPERVISOR_PID: z.coerce.number().int().positive().optional(),
};

/** Where versioned state lives (release manifests, post-mortems): shared by every service that writes it. */
export const stateEnvShape = {
  AGENTBUS_STATE_BACKEND: z.enum(['nats-kv', 'firestore']).default('nats-kv'),
  FIRESTORE_PROJECT_ID: z.string().min(1).optional(),
  FIRESTORE_EMULATOR_HOST: z.string().min(1).optional(),
};

/** The service registry file (agentbus.config.json): shared by the services that act on services. */
export const fleetEnvShape = {
  AGENTBUS_CONFIG: z.string({ error: 'required: the path of the service registry file (see infra/config/agentbus.example.json)' }).min(1),
};

const runtimeEnvSchema = z.object(runtimeEnvShape);
export type RuntimeEnv = z.infer<typeof runtimeEnvSchema>;

/**
 * Validates the runtime variables and the service's own in one pass, so every problem is
 * reported together, each naming its variable. Empty variables count as unset.
 */
export function loadServiceConfig<Shape extends z.ZodRawShape>(
  service: string,
  settingsShape: Shape,
  env: Record<string, string | undefined>,
): { runtime: RuntimeEnv; settings: z.infer<z.ZodObject<Shape>> } {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const runtime = runtimeEnvSchema.safeParse(present);
  const settings = z.object(settingsShape).safeParse(present);
  const issues = [...(runtime.success ? [] : runtime.error.issues), ...(settings.success ? [] : settings.error.issues)];
  if (issues.length > 0 || !runtime.success || !settings.success) {
    const problems = issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new AgentbusError('config-invalid', `${service}: invalid configuration: ${problems.join('; ')}`, {
      hint: 'set or fix the named environment variables (README.md, "Configuration")',
      details: { problems },
    });
  }
  return { runtime: runtime.data, settings: settings.data as z.infer<z.ZodObject<Shape>> };
}
