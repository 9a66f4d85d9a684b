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
