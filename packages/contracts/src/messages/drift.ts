import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject, scheduleSubject } from '../subjects.ts';
import { isoTime, outsideText, serviceName } from './fields.ts';

/**
 * Production lockdown (seed 000: "one manual fix breaks trust in the system … hourly scans for
 * dirty production state"): what a drift scan of a production clone finds.
 * - `uncommitted-changes`: tracked files changed in the working tree;
 * - `untracked-files`: files git does not know;
 * - `local-commits`: commits on the clone that its remote branch does not have;
 * - `wrong-commit`: the commit checked out is not the one the release manifest says is deployed;
 * - `foreign-commits`: commits on the remote branch that no agentbus deploy or revert made (the
 *   pipeline was bypassed: they carry no Agentbus-Deployment trailer).
 */
export const DriftKinds = ['uncommitted-changes', 'untracked-files', 'local-commits', 'wrong-commit', 'foreign-commits'] as const;
export type DriftKind = (typeof DriftKinds)[number];

const driftFields = {
  service: serviceName,
  kind: z.enum(DriftKinds),
  summary: outsideText({ min: 1, max: 1_024 }),
  /** Paths, commits and their authors, the commits expected and found. */
  evidence: z.record(z.string(), z.unknown()),
};

export const driftDetected = defineMessage({
  type: 'drift.detected',
  kind: 'event',
  subject: eventSubject('drift.detected'),
  description: 'A drift scan found a production clone changed outside agentbus. Once per drift, not once per scan.',
  schema: z.object({ ...driftFields, since: isoTime }),
});

export const driftResolved = defineMessage({
  type: 'drift.resolved',
  kind: 'event',
  subject: eventSubject('drift.resolved'),
  description: 'A later drift scan found the clone clean of a drift it had reported.',
  schema: z.object({ ...driftFields, since: isoTime, resolvedAt: isoTime }),
});

/** The periodic drift scan of every service's production clone: one timer, like the watch. */
export const driftScanTimer = defineMessage({
  type: 'schedule.drift-scan',
  kind: 'timer',
  subject: scheduleSubject('drift-scan'),
  description: 'The drift scan of every production clone: run each time it comes due, then rescheduled.',
  schema: z.strictObject({}),
});
