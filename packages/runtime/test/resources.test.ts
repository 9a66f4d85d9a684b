import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineService, leasesResource, runService, type ServiceResource } from '@agentbus/runtime';

// Two resources with variables of their own, as a domain package would export them.
const archiveResource = {
  env: z.object({
    ARCHIVE_URL: z.string({ error: 'required: where the archive lives' }).min(1),
    ARCHIVE_RETRIES: z.coerce.number().int().min(0).default(3),
  }),
  open: (env: { ARCHIVE_URL: string; ARCHIVE_RETRIES: number }) => ({ url: env.ARCHIVE_URL, retries: env.ARCHIVE_RETRIES }),
} satisfies ServiceResource;
const queueResource = {
  env: z.object({ QUEUE_NAME: z.string({ error: 'required: the queue to read' }).min(1) }),
  open: (env: { QUEUE_NAME: string }) => env.QUEUE_NAME,
} satisfies ServiceResource;

test('start-up reports every missing or bad setting of every declared resource together with the runtime\'s and the service\'s, before connecting', async () => {
  let opened = false;
  const service = defineService({
    name: 'svc',
    description: 'declares two resources',
    settings: { SVC_LIMIT: z.coerce.number().int().positive() },
    resources: { archive: archiveResource, queue: { ...queueResource, open: (env: { QUEUE_NAME: string }) => ((opened = true), env.QUEUE_NAME) } },
    start: () => ({}),
  });
  // No NATS server anywhere: validation comes first, so nothing waits for one.
  await assert.rejects(
    runService(service, { env: { ARCHIVE_RETRIES: 'many', SVC_LIMIT: '0' } }),
    (error: Error & { code?: string; details?: { problems: string[] } }) => {
      assert.equal(error.code, 'config-invalid');
      const variables = error.details!.problems.map((problem) => problem.split(':')[0]);
      assert.deepEqual(variables.sort(), ['ARCHIVE_RETRIES', 'ARCHIVE_URL', 'NATS_URL', 'QUEUE_NAME', 'SVC_LIMIT']);
      assert.match(error.message, /ARCHIVE_URL: required: where the archive lives/);
      assert.match(error.message, /QUEUE_NAME: required: the queue to read/);
      return true;
    },
  );
  assert.equal(opened, false, 'no resource is opened when the configuration is invalid');
});

test('a resource is on the context only where the service declares it', () => {
  defineService({
    name: 'typed',
    description: 'type-level checks (tsc reads this file)',
    settings: {},
    resources: { archive: archiveResource, leases: leasesResource },
    start(ctx) {
      const archive: { url: string; retries: number } = ctx.resources.archive;
      void archive;
      void ctx.resources.leases.acquire;
      // @ts-expect-error: `queue` is not declared here
      void ctx.resources.queue;
      // @ts-expect-error: the runtime offers no fleet or state of its own: declare fleetResource, stateResource
      void ctx.fleet;
      // @ts-expect-error
      void ctx.state;
      return {};
    },
  });
  defineService({
    name: 'bare',
    description: 'declares nothing',
    settings: {},
    start(ctx) {
      // @ts-expect-error: no resources declared, none on the context
      void ctx.resources.state;
      return {};
    },
  });
});
