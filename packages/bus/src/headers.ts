import { ellipsize } from '@agentbus/contracts';
/**
 * Header names agentbus writes. The envelope (in the body) is the truth; these copies let tools
 * filter and route without parsing bodies, and carry provenance for replays and dead letters.
 */
export const Headers = {
  msgId: 'Nats-Msg-Id',
  type: 'Agentbus-Type',
  correlationId: 'Agentbus-Correlation-Id',
  causationId: 'Agentbus-Causation-Id',
  /** On a message re-sent by `agentbus replay --republish`: `<stream>/<seq>` of the original. */
  replayedFrom: 'Agentbus-Replayed-From',
  /** On a message re-sent by `agentbus dlq redrive`: `AGENT_DLQ/<seq>` of the dead letter. */
  redrivenFrom: 'Agentbus-Redriven-From',
  dlq: {
    stream: 'Agentbus-Dlq-Stream',
    sequence: 'Agentbus-Dlq-Sequence',
    subject: 'Agentbus-Dlq-Subject',
    consumer: 'Agentbus-Dlq-Consumer',
    deliveries: 'Agentbus-Dlq-Deliveries',
    reason: 'Agentbus-Dlq-Reason',
    error: 'Agentbus-Dlq-Error',
    time: 'Agentbus-Dlq-Time',
    originalTime: 'Agentbus-Dlq-Original-Time',
    originalMsgId: 'Agentbus-Dlq-Original-Msg-Id',
    /** Set when the original body did not fit: it is still in its stream at the named sequence. */
    bodyOmitted: 'Agentbus-Dlq-Body-Omitted',
  },
} as const;

/**
 * The `Nats-Msg-Id` of a re-sent message (replay, redrive): `<envelope id>/<provenance>`. It
 * still names the envelope (so the duplicate window and the idempotency ledger speak of the same
 * id), and differs per resend, so a second replay of the same position inside the duplicate
 * window is dropped while a replay of an original inside it is not. A body that is not an
 * envelope keeps the bare provenance (its consumers dead-letter it as malformed anyway).
 */
export function resentMsgId(body: Uint8Array, provenance: string): string {
  const id = envelopeIdOf(body);
  return id === undefined ? provenance : `${id}/${provenance}`;
}

function envelopeIdOf(body: Uint8Array): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    const id = parsed && typeof parsed === 'object' ? (parsed as { id?: unknown }).id : undefined;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a delivery's `Nats-Msg-Id` names its envelope: the envelope's id itself, or, on a
 * re-sent message (replay or redrive header), `<envelope id>/<provenance>` (resentMsgId).
 */
export function msgIdNamesEnvelope(msgId: string | undefined, envelopeId: string, resent: boolean): boolean {
  if (msgId === envelopeId) return true;
  return resent && msgId !== undefined && msgId.startsWith(`${envelopeId}/`);
}

/** Headers that belong to one publish and must not be copied onto a re-sent message. */
export function isPerPublishHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('nats-') || lower.startsWith('agentbus-dlq-') || lower === Headers.replayedFrom.toLowerCase() || lower === Headers.redrivenFrom.toLowerCase();
}

/** Header values are one line of printable text. */
export function headerValue(text: string, max = 1024): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?');
  return ellipsize(flat, max, '...');
}
