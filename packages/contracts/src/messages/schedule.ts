import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { scheduleSubject } from '../subjects.ts';

/**
 * The health monitor's watch between deploys as one durable timer: a single message whose
 * consumer probes every service and redelivers it to itself (nak with the watch interval). One
 * message means one prober at a time however many health monitors run; a prober that dies lets
 * the message go to another after the consumer's ack wait. The stream keeps one message per
 * schedule subject, so starting a health monitor adds a timer only when there is none.
 */
export const healthWatchTimer = defineMessage({
  type: 'schedule.health-watch',
  kind: 'timer',
  subject: scheduleSubject('health-watch'),
  description: 'The between-deploy watch of every service: probed each time it comes due, then rescheduled.',
  schema: z.strictObject({}),
});

/**
 * The periodic integrity sweep (seed 002): every versioned document verified, and a chain-break
 * escalation raised for each damaged one, not only when someone runs `agentbus state verify`. One
 * message, rescheduled after each sweep, like the watch.
 */
export const integritySweepTimer = defineMessage({
  type: 'schedule.integrity-sweep',
  kind: 'timer',
  subject: scheduleSubject('integrity-sweep'),
  description: 'The periodic verification of every versioned document: run each time it comes due, then rescheduled.',
  schema: z.strictObject({}),
});
