import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject } from '../subjects.ts';
import { outsideText, serviceName } from './fields.ts';

/** What the platform must not decide alone (seed 002: conflict, integrity, customer impact). */
/**
 * What the platform must not decide alone (seed 002: conflict, integrity, customer impact), and
 * `inconclusive`: a deployment that could not be judged at all (no verdict can be reached), so
 * that a deploy is never left neither judged nor told.
 */
export const EscalationKinds = ['unattributed-failure', 'rollback-failed', 'lease-conflict', 'chain-break', 'prolonged-unhealthy', 'inconclusive'] as const;

export const escalationRaised = defineMessage({
  type: 'escalation.raised',
  kind: 'event',
  subject: eventSubject('escalation.raised'),
  description: 'A human must decide: page them. `dedupKey` is stable per incident, so repeats update one page.',
  schema: z.object({
    dedupKey: z.string().min(1),
    kind: z.enum(EscalationKinds),
    severity: z.enum(['critical', 'error', 'warning', 'info']),
    service: serviceName.optional(),
    /** At most 1,024 characters (PagerDuty's summary limit); longer text is cut with a marker. */
    summary: outsideText({ min: 1, max: 1024 }),
    details: z.record(z.string(), z.unknown()),
  }),
});

export const escalationResolved = defineMessage({
  type: 'escalation.resolved',
  kind: 'event',
  subject: eventSubject('escalation.resolved'),
  description: 'The condition behind an escalation is over (e.g. the service is verified healthy).',
  schema: z.object({ dedupKey: z.string().min(1), service: serviceName.optional(), summary: outsideText({ max: 1024 }) }),
});
