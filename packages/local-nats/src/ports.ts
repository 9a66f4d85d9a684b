import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * Ports handed out by this process: two callers at once never get the same one, even before
 * either has bound it.
 */
const handedOut = new Set<number>();

/**
 * The range free ports are taken from: below the kernel's ephemeral range, where outgoing
 * connections take their local ports. A port from the ephemeral range (what `listen(0)` picks)
 * can be taken by any client's connection the moment a server on it stops, so a server that
 * restarts on its port (a deployed service, a nats-server node) fails with EADDRINUSE.
 */
function readPortRange(): { low: number; high: number } | undefined {
  let ephemeralLow = 32_768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // Not Linux: assume the IANA/Linux default start.
  }
  const low = 10_000;
  const high = ephemeralLow - 1;
  return high - low >= 1_000 ? { low, high } : undefined;
}

/**
 * Across processes (the test runner's files run in processes of their own): with
 * AGENTBUS_PORT_RESERVATIONS set to a shared folder, a port handed out is a file there, and a port
 * another process was handed is never handed out again, even while it is free (a demo service
 * restarting on its port). The folder's owner removes it.
 */
function reserve(port: number): boolean {
  const dir = process.env.AGENTBUS_PORT_RESERVATIONS;
  if (!dir) return true;
  try {
    writeFileSync(join(dir, String(port)), String(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') return true; // the folder is gone (its run ended): nothing to share
    throw error;
  }
}

/** Read once, when this module loads. */
const PORT_RANGE = readPortRange();

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' || error.code === 'EACCES' ? resolve(undefined) : reject(error)));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(address && typeof address === 'object' ? address.port : undefined));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range when the
 * machine leaves room below it (else the OS picks one). Not handed out twice by one process.
 */
export async function freePort(): Promise<number> {
  const range = PORT_RANGE;
  for (let attempt = 0; range && attempt < 50; attempt++) {
    const candidate = range.low + Math.floor(Math.random() * (range.high - range.low + 1));
    if (handedOut.has(candidate)) continue;
    const port = await tryListen(candidate);
    if (port !== undefined && !handedOut.has(port) && reserve(port)) {
      handedOut.add(port);
      return port;
    }
  }
  for (;;) {
    const port = await tryListen(0);
    if (port === undefined) throw new Error('could not allocate a free port');
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
