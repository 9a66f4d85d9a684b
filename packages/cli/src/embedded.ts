import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentbusError } from '@agentbus/contracts';
import { CliErrorCodes } from './errors.ts';
import { NatsServer } from '@agentbus/local-nats';
import { writeCredentialFiles } from '@agentbus/streams';

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
  /** The keys of every identity (`agentbus auth init`'s files) when the server requires them. */
  credentialsDir: string | undefined;
  /** True when this process started the server (and stops it on release). */
  owned: boolean;
  release(): Promise<void>;
}

interface Advertisement {
  url: string;
  pid: number;
  /** The server requires an identity (keys in `<home>/auth`). */
  auth?: boolean;
}

/** A live process that is not a zombie (a killed orphan stays one where init does not reap). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The embedded server `agentbus up` is running, if one runs. */
function findAdvertisement(home: string): Advertisement | undefined {
  const ad = readJson<Advertisement>(join(home, 'nats.json'));
  return ad && alive(ad.pid) ? ad : undefined;
}

/** The URL of the embedded server `agentbus up` is running, if one runs. */
export function findAdvertisedNats(home: string): string | undefined {
  return findAdvertisement(home)?.url;
}

/** Where the embedded server's keys are (`agentbus auth init` writes them there for it). */
export function embeddedCredentialsDir(home: string): string {
  return join(home, 'auth');
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

/**
 * A server left running by an owner that was killed before it could stop it (SIGKILL, a crash)
 * still holds the store: stop it before starting a new one on the same store. Only a live
 * nats-server whose command line names this store is touched.
 */
async function stopOrphanedServer(pidPath: string, storeDir: string): Promise<void> {
  const pid = Number(readJson<number>(pidPath));
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  let config = '';
  try {
    config = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return;
  }
  if (!config.split('\0').includes(`NATS_STORE_DIR=${storeDir}`)) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; alive(pid) && waited < 10_000; waited += 100) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(pidPath, { force: true });
}

export interface StartEmbeddedOptions {
  home: string;
  binary?: string;
  /** Advertise the URL for other commands (agentbus up). */
  advertise?: boolean;
  /** How long to wait for another command's embedded server to be released. Default 60 s. */
  lockWaitMs?: number;
  /** Run it with authorization: the keys and the server's fragment are (re)written in `<home>/auth` first. */
  auth?: boolean;
}

export async function startEmbeddedNats(options: StartEmbeddedOptions): Promise<EmbeddedNats> {
  const { home } = options;
  mkdirSync(home, { recursive: true });
  const lockPath = join(home, 'nats.lock');
  const deadline = Date.now() + (options.lockWaitMs ?? 60_000);
  for (;;) {
    const advertised = findAdvertisement(home);
    if (advertised) return { url: advertised.url, credentialsDir: advertised.auth ? embeddedCredentialsDir(home) : undefined, owned: false, release: async () => {} };
    if (tryLock(lockPath)) break;
    if (Date.now() > deadline) {
      throw new AgentbusError(CliErrorCodes.embeddedNatsBusy, `another agentbus process (pid ${readFileSync(lockPath, 'utf8').trim()}) holds the embedded NATS store in ${home}`, {
        hint: 'wait for it to finish, run `agentbus up` once so every command shares its server, or set NATS_URL',
        retryable: true,
      });
    }
    await sleep(100);
  }
  const serverPidPath = join(home, 'nats-server.pid');
  const storeDir = join(home, 'nats');
  await stopOrphanedServer(serverPidPath, storeDir);
  let server: NatsServer;
  let credentialsDir: string | undefined;
  try {
    // The permissions follow this version's topology: the fragment is written again at each start (the keys stay).
    const credentials = options.auth ? writeCredentialFiles(embeddedCredentialsDir(home)) : undefined;
    credentialsDir = credentials?.dir;
    server = await NatsServer.start({
      storeDir,
      logFile: join(home, 'nats-server.log'),
      binary: options.binary,
      serverName: 'agentbus-embedded',
      includes: credentials ? [credentials.authorizationFile] : [],
    });
  } catch (error) {
    rmSync(lockPath, { force: true });
    throw error;
  }
  writeFileSync(serverPidPath, String(server.pid));
  const adPath = join(home, 'nats.json');
  if (options.advertise) writeFileSync(adPath, JSON.stringify({ url: server.url, pid: process.pid, auth: Boolean(options.auth) } satisfies Advertisement));
  return {
    url: server.url,
    credentialsDir,
    owned: true,
    release: async () => {
      if (options.advertise) rmSync(adPath, { force: true });
      await server.stop();
      rmSync(serverPidPath, { force: true });
      rmSync(lockPath, { force: true });
    },
  };
}
