import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { AgentbusError, describeError } from '@agentbus/contracts';

export interface ConnectOptions {
  /** One URL, a comma-separated list, or an array (every node of a cluster). */
  servers: string | string[];
  /** The service or tool name: shown by the server and used for the inbox prefix. */
  name: string;
  /** Time-out of the first connection attempt. Default 5 s. */
  timeoutMs?: number;
  /**
   * Keep trying forever when the first attempt fails (services at start-up, when the server may
   * come up later). Tools leave this off and fail fast with a clear error instead.
   */
  waitForServer?: boolean;
  user?: string;
  pass?: string;
  token?: string;
}

export function parseServers(servers: string | string[]): string[] {
  return (Array.isArray(servers) ? servers : servers.split(','))
    .map((server) => server.trim())
    .filter(Boolean);
}

/** `_INBOX_<name>`: replies to this service arrive on its own inbox subjects (grantable per user). */
export function inboxPrefixFor(name: string): string {
  return `_INBOX_${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/**
 * Connects with endless reconnect (a restarted or failed-over server is rejoined without the
 * process restarting) and a per-service inbox prefix. Throws AgentbusError `nats-unreachable`
 * when the first attempt fails (unless `waitForServer`).
 */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const servers = parseServers(options.servers);
  if (servers.length === 0) {
    throw new AgentbusError('nats-url-invalid', 'no NATS server given', { hint: 'set NATS_URL, e.g. nats://127.0.0.1:4222' });
  }
  try {
    return await connect({
      servers,
      name: options.name,
      inboxPrefix: inboxPrefixFor(options.name),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
      timeout: options.timeoutMs ?? 5_000,
      waitOnFirstConnect: options.waitForServer ?? false,
      ...(options.user ? { user: options.user, pass: options.pass } : {}),
      ...(options.token ? { token: options.token } : {}),
    });
  } catch (error) {
    throw new AgentbusError('nats-unreachable', `cannot connect to NATS at ${servers.join(', ')}: ${describeError(error)}`, {
      cause: error,
      retryable: true,
      hint: 'check that nats-server is running with JetStream (-js) and that NATS_URL is right; unset NATS_URL to use the embedded server',
    });
  }
}

/**
 * The connection's environment variables, as every service (the runtime) and the CLI read them:
 * one schema, so a variable means the same to both. The CLI makes NATS_URL optional (it runs an
 * embedded server without one).
 */
export const natsEnvShape = {
  NATS_URL: z.string({ error: 'required: the NATS server(s), e.g. nats://127.0.0.1:4222 (comma-separated for a cluster)' }).min(1),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
};

/** The credentials among those variables, as connectNats takes them. */
export function natsAuthFrom(env: { NATS_USER?: string | undefined; NATS_PASSWORD?: string | undefined; NATS_TOKEN?: string | undefined }): Pick<ConnectOptions, 'user' | 'pass' | 'token'> {
  return { user: env.NATS_USER, pass: env.NATS_PASSWORD, token: env.NATS_TOKEN };
}
