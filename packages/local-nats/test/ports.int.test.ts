// Free ports come from below the kernel's ephemeral range, so that a server restarting on its port
// never finds it taken by some client's outgoing connection, and one process never gets one twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '@agentbus/local-nats';

test('free ports: below the ephemeral range, distinct when asked for at once, and free', async () => {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length, 'no port handed out twice');
  for (const port of ports) assert.ok(port >= 10_000 && port < ephemeralLow, `${port} is below the ephemeral range (${ephemeralLow}…)`);
  for (const port of ports.slice(0, 5)) {
    await new Promise<void>((resolve, reject) => {
      const server = createServer().once('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  }
});
