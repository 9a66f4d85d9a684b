import { resolve } from 'node:path';
import { z } from 'zod';
import { AgentbusError } from '@agentbus/contracts';

/**
 * The CLI's configuration: read from the environment here and nowhere else, validated once,
 * every problem reported together.
 */
const cliEnvSchema = z.object({
  NATS_URL: z.string().min(1).optional(),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  AGENTBUS_HOME: z.string().min(1).default('.agentbus'),
  AGENTBUS_STATE_BACKEND: z.enum(['nats-kv', 'firestore']).default('nats-kv'),
  FIRESTORE_PROJECT_ID: z.string().min(1).optional(),
  FIRESTORE_EMULATOR_HOST: z.string().min(1).optional(),
  AGENTBUS_CONFIG: z.string().min(1).optional(),
  NATS_SERVER_BIN: z.string().min(1).optional(),
  /** Set by npm for `npm start`, `npm run …` and `npx`. */
  npm_lifecycle_event: z.string().optional(),
});

export interface CliConfig {
  /** Undefined: use the embedded nats-server under `home`. */
  natsUrl: string | undefined;
  natsAuth: { user?: string; pass?: string; token?: string };
  /** Where embedded NATS keeps its store, lock and pid file. */
  home: string;
  state: { backend: 'nats-kv' | 'firestore'; firestoreProjectId?: string; firestoreEmulatorHost?: string };
  /** The service registry file (agentbus.config.json), when set. */
  servicesConfigPath: string | undefined;
  natsServerBinary: string | undefined;
  /** Started through npm (`npm start`, `npx agentbus …`): npm's death is a reason to stop (`up`). */
  launchedByNpm: boolean;
}

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  // An empty variable (NATS_URL=) means unset, as in most tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = cliEnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new AgentbusError('config-invalid', `invalid environment: ${problems}`, { hint: 'fix or unset the named variables (see the configuration table in README.md)' });
  }
  const e = parsed.data;
  if (e.AGENTBUS_STATE_BACKEND === 'firestore' && !e.FIRESTORE_PROJECT_ID) {
    throw new AgentbusError('config-invalid', 'invalid environment: FIRESTORE_PROJECT_ID: required when AGENTBUS_STATE_BACKEND=firestore', {
      hint: 'set FIRESTORE_PROJECT_ID (and FIRESTORE_EMULATOR_HOST for the emulator)',
    });
  }
  return {
    natsUrl: e.NATS_URL,
    natsAuth: { user: e.NATS_USER, pass: e.NATS_PASSWORD, token: e.NATS_TOKEN },
    home: resolve(e.AGENTBUS_HOME),
    state: { backend: e.AGENTBUS_STATE_BACKEND, firestoreProjectId: e.FIRESTORE_PROJECT_ID, firestoreEmulatorHost: e.FIRESTORE_EMULATOR_HOST },
    servicesConfigPath: e.AGENTBUS_CONFIG,
    natsServerBinary: e.NATS_SERVER_BIN,
    launchedByNpm: e.npm_lifecycle_event !== undefined,
  };
}
