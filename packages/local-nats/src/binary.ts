import { spawnSync } from 'node:child_process';
import { AgentbusError } from '@agentbus/contracts';
import { LocalNatsErrorCodes } from './errors.ts';

export const INSTALL_HINT =
  'install nats-server: `sudo apt-get install nats-server` (Debian/Ubuntu) or `brew install nats-server` (macOS), ' +
  'or set NATS_URL to a running NATS server with JetStream';

/** Debian installs the server in /usr/sbin, which is not on every user's PATH. */
const CANDIDATES = ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'];

export interface NatsServerBinary {
  path: string;
  version: string;
}

const found = new Map<string, NatsServerBinary>();

/**
 * Finds a runnable nats-server binary (the given path, else the usual places) and its version.
 * Throws AgentbusError `nats-server-missing` with install instructions when there is none.
 */
export function findNatsServerBinary(preferred?: string): NatsServerBinary {
  const key = preferred ?? '';
  const cached = found.get(key);
  if (cached) return cached;
  const candidates = preferred ? [preferred] : CANDIDATES;
  for (const candidate of candidates) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.error || result.status !== 0) continue;
    const version = /v?(\d+\.\d+\.\d+)/.exec(result.stdout)?.[1] ?? 'unknown';
    const binary = { path: candidate, version };
    found.set(key, binary);
    return binary;
  }
  throw new AgentbusError(
    LocalNatsErrorCodes.natsServerMissing,
    preferred ? `nats-server not runnable at ${preferred}` : 'nats-server is not installed (looked on PATH and in /usr/sbin)',
    { hint: INSTALL_HINT },
  );
}
