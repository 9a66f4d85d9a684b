import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { connect, nkeyAuthenticator, type NodeConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { AgentbusError, describeError, isAgentbusError } from '@agentbus/contracts';

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
  /** A file holding this identity's nkey seed (`agentbus auth init` writes them, mode 0600). Read here, never logged. */
  seedFile?: string;
  /** Client TLS: files of the CA to trust, and of this client's certificate and key (when the server verifies clients). */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Who this connection is to the server, named in permission errors (default: the seed file's identity or the user). */
  identity?: string;
}

/** The identity each connection was made as (permission errors name it). */
const identities = new WeakMap<NatsConnection, string>();

/** The identity `nc` connected as: the name permission errors give. */
export function identityOf(nc: NatsConnection): string {
  return identities.get(nc) ?? 'unknown';
}

function readSeed(path: string): Uint8Array {
  try {
    const seed = readFileSync(path, 'utf8').trim();
    if (!seed.startsWith('S')) throw new Error('it does not hold an nkey seed (one line starting with S)');
    return new TextEncoder().encode(seed);
  } catch (error) {
    throw new AgentbusError('nats-credentials-invalid', `cannot use the NATS seed file ${path}: ${describeError(error)}`, {
      hint: 'write the keys with `agentbus auth init` and point NATS_NKEY_SEED_FILE (or NATS_CREDENTIALS_DIR) at them',
    });
  }
}

function authOptions(options: ConnectOptions): Partial<NodeConnectionOptions> {
  if (options.seedFile) return { authenticator: nkeyAuthenticator(readSeed(options.seedFile)) };
  if (options.user) return { user: options.user, pass: options.pass };
  if (options.token) return { token: options.token };
  return {};
}

function tlsOptions(tls: ConnectOptions['tls']): Partial<NodeConnectionOptions> {
  if (!tls || (!tls.caFile && !tls.certFile && !tls.keyFile)) return {};
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
    throw new AgentbusError('nats-tls-invalid', 'NATS_TLS_CERT and NATS_TLS_KEY go together: one is set without the other', { hint: 'set both (the client certificate and its key), or neither' });
  }
  return { tls: { ...(tls.caFile ? { caFile: tls.caFile } : {}), ...(tls.certFile ? { certFile: tls.certFile, keyFile: tls.keyFile } : {}) } };
}

function isAuthFailure(error: unknown): boolean {
  const text = describeError(error).toLowerCase();
  return text.includes('authorization violation') || text.includes('authentication') || (error instanceof Error && error.name === 'AuthorizationError');
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
  const identity = options.identity ?? options.user ?? (options.seedFile ? basename(options.seedFile).replace(/\.nk$/, '') : 'anonymous (no credentials)');
  try {
    const nc = await connect({
      servers,
      name: options.name,
      inboxPrefix: inboxPrefixFor(options.name),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
      timeout: options.timeoutMs ?? 5_000,
      waitOnFirstConnect: options.waitForServer ?? false,
      ...authOptions(options),
      ...tlsOptions(options.tls),
    });
    identities.set(nc, identity);
    return nc;
  } catch (error) {
    if (isAgentbusError(error)) throw error;
    if (isAuthFailure(error)) {
      throw new AgentbusError('nats-auth-failed', `NATS at ${servers.join(', ')} refused identity ${identity}: ${describeError(error)}`, {
        cause: error,
        hint: 'this server requires credentials: set NATS_NKEY_SEED_FILE or NATS_CREDENTIALS_DIR (written by `agentbus auth init`), or NATS_USER/NATS_PASSWORD or NATS_TOKEN',
      });
    }
    throw new AgentbusError('nats-unreachable', `cannot connect to NATS at ${servers.join(', ')}: ${describeError(error)}`, {
      cause: error,
      retryable: true,
      hint: unreachableHint(error, options.tls),
    });
  }
}

/** What to check when no server could be reached: TLS first when TLS is the likely cause. */
function unreachableHint(error: unknown, tls: ConnectOptions['tls']): string {
  if (/certificate|tls|ssl/i.test(describeError(error))) {
    return 'the server speaks TLS and its certificate could not be verified: set NATS_TLS_CA to the CA that signed it (and NATS_TLS_CERT/NATS_TLS_KEY when it verifies clients)';
  }
  if (tls?.caFile && !tls.certFile) {
    return 'if the server verifies clients (tls { verify: true }), it refuses a client without a certificate: set NATS_TLS_CERT and NATS_TLS_KEY; otherwise check that nats-server runs and NATS_URL is right';
  }
  return 'check that nats-server is running with JetStream (-js) and that NATS_URL is right; unset NATS_URL to use the embedded server';
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
  NATS_NKEY_SEED_FILE: z.string().optional(),
  NATS_CREDENTIALS_DIR: z.string().optional(),
  NATS_TLS_CA: z.string().optional(),
  NATS_TLS_CERT: z.string().optional(),
  NATS_TLS_KEY: z.string().optional(),
};

export type NatsEnv = { [K in keyof typeof natsEnvShape]?: string | undefined };

/**
 * The credentials and TLS files among those variables, as connectNats takes them, for `identity`:
 * NATS_NKEY_SEED_FILE, else `<NATS_CREDENTIALS_DIR>/<identity>.nk` (the directory `agentbus auth
 * init` writes, one seed per identity), else NATS_USER/NATS_PASSWORD, else NATS_TOKEN.
 */
export function natsAuthFrom(env: NatsEnv, identity?: string): Pick<ConnectOptions, 'user' | 'pass' | 'token' | 'seedFile' | 'tls' | 'identity'> {
  const tls = { caFile: env.NATS_TLS_CA, certFile: env.NATS_TLS_CERT, keyFile: env.NATS_TLS_KEY };
  // Each names the identity it is: a seed file by its name (deployer.nk is deployer), a user by hers.
  if (env.NATS_NKEY_SEED_FILE) return { seedFile: env.NATS_NKEY_SEED_FILE, identity: basename(env.NATS_NKEY_SEED_FILE).replace(/\.(nk|seed)$/, ''), tls };
  if (env.NATS_CREDENTIALS_DIR && identity) return { seedFile: join(env.NATS_CREDENTIALS_DIR, `${identity}.nk`), identity, tls };
  if (env.NATS_USER) return { user: env.NATS_USER, pass: env.NATS_PASSWORD, identity: env.NATS_USER, tls };
  if (env.NATS_TOKEN) return { token: env.NATS_TOKEN, identity: identity ?? 'token', tls };
  return { tls };
}
