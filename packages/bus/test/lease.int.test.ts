import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectNats, LeaseBusyError, LeaseManager } from '@agentbus/bus';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { startNats } from '@agentbus/testkit';

test('leases: one holder at a time, re-entrant for the same owner, released, expired leases taken over and the conflict reported', async () => {
  const server = await startNats();
  const nc = await connectNats({ servers: server.url, name: 'lease-test' });
  try {
    await applyTopology(nc, agentbusTopology({ replicas: 1 }));
    const a = await LeaseManager.open(nc, 'deployer-a');
    const b = await LeaseManager.open(nc, 'deployer-b');

    const first = await a.tryAcquire('api', 'deploy-1', 60_000);
    await assert.rejects(b.tryAcquire('api', 'deploy-2', 60_000), (error: unknown) => error instanceof LeaseBusyError && /leased to deployer-a for deploy-1/.test((error as Error).message));
    const again = await b.tryAcquire('api', 'deploy-1', 60_000);
    assert.equal(again.epoch, first.epoch, 'a redelivered task gets its own lease back');
    const other = await b.tryAcquire('web', 'deploy-3', 60_000);
    assert.equal(other.epoch, 1, 'leases are per resource');

    assert.deepEqual(await first.release(), { conflict: false });
    const second = await b.tryAcquire('api', 'deploy-2', 60_000);
    assert.equal(second.epoch, first.epoch + 1);
    await second.release();

    // Many contenders at once: exactly one wins each epoch.
    const contenders = await Promise.all(Array.from({ length: 8 }, (_, i) => LeaseManager.open(nc, `c${i}`)));
    const results = await Promise.allSettled(contenders.map((m, i) => m.tryAcquire('race', `owner-${i}`, 60_000)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);

    // A holder that overran its lease: another takes over, and the first learns of it on release.
    const short = await a.tryAcquire('slow', 'deploy-old', 50);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const takeover = await b.tryAcquire('slow', 'deploy-new', 60_000);
    const released = await short.release();
    assert.equal(released.conflict, true);
    assert.equal(released.conflict && released.takenBy.owner, 'deploy-new');
    await takeover.release();

    // acquire() waits for a busy lease.
    const held = await a.tryAcquire('queue', 'one', 60_000);
    const waits: string[] = [];
    const waiting = b.acquire('queue', 'two', { ttlMs: 60_000, maxWaitMs: 10_000, pollMs: 20, onWait: (busy) => waits.push(busy.code) });
    setTimeout(() => void held.release(), 200);
    const got = await waiting;
    assert.equal(got.epoch, held.epoch + 1);
    assert.ok(waits.length > 0 && waits.every((w) => w === 'lease-busy'));
  } finally {
    await nc.close();
    await server.stop();
  }
});

test('a lease handed over by owner: another agent of the same work releases it; an agent of other work cannot', async () => {
  const server = await startNats();
  const nc = await connectNats({ servers: server.url, name: 'lease-handover' });
  try {
    await applyTopology(nc, agentbusTopology({ replicas: 1 }));
    const deployer = await LeaseManager.open(nc, 'deployer');
    const monitor = await LeaseManager.open(nc, 'health-monitor');
    await deployer.tryAcquire('api', 'deployment-1', 60_000); // kept, not released: handed over
    await assert.rejects(deployer.tryAcquire('api', 'deployment-2', 60_000), LeaseBusyError);
    assert.equal(await monitor.releaseIfOwner('api', 'deployment-2'), false, 'not the owner: nothing released');
    assert.equal(await monitor.releaseIfOwner('api', 'deployment-1'), true);
    assert.equal(await monitor.releaseIfOwner('api', 'deployment-1'), false, 'already released');
    const next = await deployer.tryAcquire('api', 'deployment-2', 60_000);
    assert.equal(next.epoch, 2);
  } finally {
    await nc.close();
    await server.stop();
  }
});
