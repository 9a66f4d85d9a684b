import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentbusError } from '@agentbus/contracts';
import { NatsServer } from '@agentbus/local-nats';

/**
 * Embedded NATS: a `nats-server -js` child process on a free port, its store under
 * `<home>/nats`. One process at a time may own that store (a lock file guards it):
 * - `agentbus up` owns it for its whole life and advertises its URL in `<home>/nats.json`;
 * - any other command first looks for that advertisement and connects to it;
 * - without one, a command starts its own server for its own duration, waiting its turn
 *   for the lock when another command holds it.
 */
export interface EmbeddedNats {
  url: string;
  /** True when this process started the server (and stops it on release). */
  owned: boolean;
  release(): Promise<void>;
}

interface Advertisement {
  url: string;
  pid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The URL of the embedded server `agentbus up` is running, if one runs. */
export function findAdvertisedNats(home: string): string | undefined {
  const ad = readJson<Advertisement>(join(home, 'nats.json'));
  return ad && alive(ad.pid) ? ad.url : undefined;
}

function tryLock(lockPath: string): boolean {
  try {
    const fd = openSync(lockPath, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number(readFileSync(lockPath, 'utf8').trim());
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(lockPath, { force: true }); // stale: its owner died
      return tryLock(lockPath);
    }
    return false;
  }
}

export interface StartEmbeddedOptions {
  home: string;
  binary?: string;
  /** Advertise the URL for other commands (agentbus up). */
  advertise?: boolean;
  /** How long to wait for another command's embedded server to be released. Default 60 s. */
  lockWaitMs?: number;
}

export async function startEmbeddedNats(options: StartEmbeddedOptions): Promise<EmbeddedNats> {
  const { home } = options;
  mkdirSync(home, { recursive: true });
  const lockPath = join(home, 'nats.lock');
  const deadline = Date.now() + (options.lockWaitMs ?? 60_000);
  for (;;) {
    const advertised = findAdvertisedNats(home);
    if (advertised) return { url: advertised, owned: false, release: async () => {} };
    if (tryLock(lockPath)) break;
    if (Date.now() > deadline) {
      throw new AgentbusError('embedded-nats-busy', `another agentbus process (pid ${readFileSync(lockPath, 'utf8').trim()}) holds the embedded NATS store in ${home}`, {
        hint: 'wait for it to finish, run `agentbus up` once so every command shares its server, or set NATS_URL',
        retryable: true,
      });
    }
    await sleep(100);
  }
  let server: NatsServer;
  try {
    server = await NatsServer.start({
      storeDir: join(home, 'nats'),
      logFile: join(home, 'nats-server.log'),
      binary: options.binary,
      serverName: 'agentbus-embedded',
    });
  } catch (error) {
    rmSync(lockPath, { force: true });
    throw error;
  }
  const adPath = join(home, 'nats.json');
  if (options.advertise) writeFileSync(adPath, JSON.stringify({ url: server.url, pid: process.pid } satisfies Advertisement));
  return {
    url: server.url,
    owned: true,
    release: async () => {
      if (options.advertise) rmSync(adPath, { force: true });
      await server.stop();
      rmSync(lockPath, { force: true });
    },
  };
}
