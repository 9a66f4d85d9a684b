import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { safeText } from '../safe-text.ts';
import { eventSubject } from '../subjects.ts';
import { outsideText, serviceName } from './fields.ts';

/**
 * What the platform must not decide alone (seed 002: conflict, integrity, customer impact), and
 * `inconclusive`: a deployment that could not be judged at all (no verdict can be reached), so
 * that a deploy is never left neither judged nor told; `release-triage`: a release stopped and
 * nothing was reverted, because the failing service could not be named unambiguously (seed 001).
 */
export const EscalationKinds = ['unattributed-failure', 'rollback-failed', 'lease-conflict', 'chain-break', 'prolonged-unhealthy', 'inconclusive', 'release-triage', 'watchdog', 'drift'] as const;
export type EscalationKind = (typeof EscalationKinds)[number];
export const EscalationSeverities = ['critical', 'error', 'warning', 'info'] as const;
export type EscalationSeverity = (typeof EscalationSeverities)[number];

/** The longest summary: PagerDuty's summary limit. Longer text is cut at a code point, with a marker. */
export const ESCALATION_SUMMARY_MAX = 1_024;

export const escalationRaised = defineMessage({
  type: 'escalation.raised',
  kind: 'event',
  subject: eventSubject('escalation.raised'),
  description: 'A human must decide: page them. `dedupKey` is stable per incident, so repeats update one page.',
  schema: z.object({
    dedupKey: z.string().min(1),
    kind: z.enum(EscalationKinds),
    severity: z.enum(EscalationSeverities),
    service: serviceName.optional(),
    /** At most 1,024 characters (PagerDuty's summary limit); longer text is cut with a marker. */
    summary: outsideText({ min: 1, max: ESCALATION_SUMMARY_MAX }),
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

/** The longest dedupKey: its envelope id (`escalation.` and the key without `agentbus.`) stays within the 200 an id may have. */
export const ESCALATION_KEY_MAX = 180;

export interface EscalationInput {
  kind: EscalationKind;
  severity: EscalationSeverity;
  service?: string;
  /** What a human reads first; made safe and cut to ESCALATION_SUMMARY_MAX here. */
  summary: string;
  details: Record<string, unknown>;
  /**
   * What the incident is about, after its kind: a deployment id; a service and a lease epoch; a
   * document path and its first bad version. Gives the dedupKey, so that every raising about the
   * same thing updates one page.
   */
  about: ReadonlyArray<string | number>;
  /**
   * What makes this raising distinct from a repeat of it (the envelope id, deduplicated by the
   * stream). Default `about`: one escalation per incident. A skip answered once per failure told
   * gives the trigger's id.
   */
  occurrence?: ReadonlyArray<string | number>;
}

export interface Escalation {
  data: z.input<typeof escalationRaised.schema>;
  /** The envelope id to publish it with (`escalation.<kind>.<occurrence>`). */
  id: string;
}

/**
 * The one way to raise an escalation: publish `data` as escalation.raised with `id`
 * (`ctx.publish('escalation.raised', e.data, { id: e.id })`). The dedupKey is
 * `agentbus.<kind>.<about…>`, each part reduced to letters, digits and `_ = - .` (anything else
 * becomes `_`); a key over ESCALATION_KEY_MAX keeps its start and ends in the SHA-256 of the whole.
 * Deterministic: the same input gives the same key and id.
 */
export function escalation(input: EscalationInput): Escalation {
  const dedupKey = escalationKey(input.kind, input.about);
  const id = `escalation.${escalationKey(input.kind, input.occurrence ?? input.about).slice('agentbus.'.length)}`;
  return {
    data: {
      dedupKey,
      kind: input.kind,
      severity: input.severity,
      ...(input.service !== undefined ? { service: input.service } : {}),
      summary: safeText(input.summary, { max: ESCALATION_SUMMARY_MAX }),
      details: input.details,
    },
    id,
  };
}

/** `agentbus.<kind>.<parts…>` (see escalation). */
export function escalationKey(kind: EscalationKind, parts: ReadonlyArray<string | number>): string {
  const key = ['agentbus', kind, ...parts.map(keyPart)].join('.');
  if (key.length <= ESCALATION_KEY_MAX) return key;
  const hash = createHash('sha256').update(key).digest('hex');
  return `${key.slice(0, ESCALATION_KEY_MAX - hash.length - 1).replace(/\.+$/, '')}.${hash}`;
}

const keyPart = (part: string | number) => String(part).replace(/[^A-Za-z0-9_=.-]/g, '_').replace(/^\.+|\.+$/g, '_') || '_';
