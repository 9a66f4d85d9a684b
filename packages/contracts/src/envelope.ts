import { z } from 'zod';
import { v7 as uuidv7 } from 'uuid';

/**
 * Every message on the bus is an envelope (think CloudEvents): who sent what, when, as part of
 * which incident, and because of which earlier message. `id` is also the `Nats-Msg-Id` header,
 * so publishing the same envelope twice inside the stream's duplicate window stores it once.
 */
export const envelopeSchema = z.object({
  id: z.string().min(1).max(200).regex(/^[A-Za-z0-9_=-]([A-Za-z0-9._=-]*[A-Za-z0-9_=-])?$/, 'letters, digits and _ = - (and inner dots) only'),
  type: z.string().min(1),
  source: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  /** One per deployment or incident: every message of one incident carries the same value. */
  correlationId: z.string().min(1),
  /** The id of the message that caused this one; absent for a message a human or a timer started. */
  causationId: z.string().min(1).optional(),
  data: z.unknown(),
});

export interface Envelope<Type extends string = string, Data = unknown> {
  id: string;
  type: Type;
  source: string;
  time: string;
  correlationId: string;
  causationId?: string;
  data: Data;
}

export interface EnvelopeMeta {
  /** The sending agent or user. */
  source: string;
  /** Defaults to a new uuid v7 (time ordered). */
  id?: string;
  /** Defaults to `causedBy.correlationId`, else to the new id (a new incident starts here). */
  correlationId?: string;
  /** The message being handled when this one is sent: sets causationId and correlationId. */
  causedBy?: Pick<Envelope, 'id' | 'correlationId'>;
  time?: Date;
}

export function newMessageId(): string {
  return uuidv7();
}

/** Fills in the envelope fields around already-validated data. */
export function wrapEnvelope<Type extends string, Data>(type: Type, data: Data, meta: EnvelopeMeta): Envelope<Type, Data> {
  const id = meta.id ?? newMessageId();
  const envelope: Envelope<Type, Data> = {
    id,
    type,
    source: meta.source,
    time: (meta.time ?? new Date()).toISOString(),
    correlationId: meta.correlationId ?? meta.causedBy?.correlationId ?? id,
    data,
  };
  if (meta.causedBy) envelope.causationId = meta.causedBy.id;
  return envelope;
}
