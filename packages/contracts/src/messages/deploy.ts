import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject, taskSubject } from '../subjects.ts';
import { gitRef, serviceName } from './fields.ts';

export const deployTask = defineMessage({
  type: 'deployer.deploy',
  kind: 'task',
  subject: taskSubject('deployer', 'deploy'),
  description: 'Merge `ref` into the service branch, push, verify the remote and run the deploy command.',
  // Strict: a misspelt field in a hand-written task ("dryrun") is an error, not silently dropped.
  schema: z.strictObject({
    service: serviceName,
    ref: gitRef,
    requestedBy: z.string().min(1).max(200),
    dryRun: z.boolean().default(false),
  }),
});
