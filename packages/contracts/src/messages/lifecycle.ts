import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject } from '../subjects.ts';
import { outsideLine, outsideText } from './fields.ts';

/**
 * Lifecycle of every task a service handles, sent by the shared runtime (not by handlers):
 * started when a handler begins, completed or failed when it ends. They share the task's
 * correlationId, so an incident's timeline shows who worked on what and for how long.
 */
const taskRef = {
  agent: z.string().min(1),
  taskType: z.string().min(1),
  taskId: z.string().min(1),
  attempt: z.number().int().positive(),
};

export const taskStarted = defineMessage({
  type: 'task.started',
  kind: 'event',
  subject: eventSubject('task.started'),
  description: 'A service began handling a task.',
  schema: z.object(taskRef),
});

export const taskCompleted = defineMessage({
  type: 'task.completed',
  kind: 'event',
  subject: eventSubject('task.completed'),
  description: 'A service finished a task successfully.',
  schema: z.object({ ...taskRef, durationMs: z.number().nonnegative() }),
});

export const taskFailed = defineMessage({
  type: 'task.failed',
  kind: 'event',
  subject: eventSubject('task.failed'),
  description: 'A task attempt failed; `willRetry` says whether it will be delivered again or was dead-lettered.',
  schema: z.object({
    ...taskRef,
    durationMs: z.number().nonnegative(),
    error: z.object({ code: outsideLine(200), message: outsideText() }),
    willRetry: z.boolean(),
  }),
});
