import { resolve } from 'node:path';
import { z } from 'zod';
import { AgentbusError } from '@agentbus/contracts';
import { natsEnvShape, type NatsEnv } from '@agentbus/bus';
import { fleetEnvSchema } from '@agentbus/fleet';
import { stateEnvSchema, type StateSettings } from '@agentbus/state';

/**
 * The CLI's configuration: read from the environment here and nowhere else, validated once,
 * every problem reported together. Where state lives and the registry variable are the services'
 * own schemas (@agentbus/state, @agentbus/fleet).
 */
const cliEnvSchema = z.object({
  ...natsEnvShape,
  NATS_URL: natsEnvShape.NATS_URL.optional(),
  AGENTBUS_HOME: z.string().min(1).default('.agentbus'),
  AGENTBUS_CONFIG: fleetEnvSchema.shape.AGENTBUS_CONFIG.optional(),
  NATS_SERVER_BIN: z.string().min(1).optional(),
  /** The embedded server (no NATS_URL) requires an identity of every client: `on` (default) or `off`. */
  AGENTBUS_NATS_AUTH: z.enum(['on', 'off'], { error: 'on or off' }).default('on'),
  /** Set by npm for `npm start`, `npm run …` and `npx`. */
  npm_lifecycle_event: z.string().optional(),
});

export interface CliConfig {
  /** Undefined: use the embedded nats-server under `home`. */
  natsUrl: string | undefined;
  /** The connection variables as given (natsAuthFrom picks the credentials of an identity from them). */
  natsEnv: NatsEnv;
  /** The embedded server runs with authorization (keys in `<home>/auth`). */
  embeddedAuth: boolean;
  /** Where embedded NATS keeps its store, lock and pid file. */
  home: string;
  /** Where versioned state lives (stateEnvSchema). */
  state: StateSettings;
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
  const state = stateEnvSchema.safeParse(present);
  if (!parsed.success || !state.success) {
    const issues = [...(parsed.success ? [] : parsed.error.issues), ...(state.success ? [] : state.error.issues)];
    const problems = issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new AgentbusError('config-invalid', `invalid environment: ${problems}`, { hint: 'fix or unset the named variables (see the configuration table in README.md)' });
  }
  const e = parsed.data;
  return {
    natsUrl: e.NATS_URL,
    natsEnv: Object.fromEntries(Object.keys(natsEnvShape).filter((name) => name !== 'NATS_URL').map((name) => [name, e[name as keyof typeof e]])) as NatsEnv,
    embeddedAuth: e.AGENTBUS_NATS_AUTH === 'on',
    home: resolve(e.AGENTBUS_HOME),
    state: state.data,
    servicesConfigPath: e.AGENTBUS_CONFIG,
    natsServerBinary: e.NATS_SERVER_BIN,
    launchedByNpm: e.npm_lifecycle_event !== undefined,
  };
}
