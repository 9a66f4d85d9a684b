import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { describeError, type Registry } from '@agentbus/contracts';
import { deadLetter, DeadLetterReasons } from './dead-letter.ts';
import type { BusLogger } from './consumer.ts';
import type { Publisher } from './publisher.ts';

/**
 * The consumer runner's safety net (one of its units): a worker that died on a message's last
 * delivery (or ran past ack_wait on it) never dead-letters it, and the server only says so in a
 * MAX_DELIVERIES advisory. This watches the advisories of one consumer and dead-letters the
 * message they name (reason `max-deliveries`), read back from its stream. Failures are logged,
 * never thrown: the message stays in its stream. Unsubscribe the returned subscription to stop.
 */
export function watchMaxDeliveries<R extends Registry>(options: { nc: NatsConnection; stream: string; consumer: string; publisher: Publisher<R>; log: BusLogger }): Subscription {
  const { stream, consumer, nc, log } = options;
  return nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`, {
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        try {
          const advisory = msg.json<{ stream_seq: number; deliveries: number }>();
          const jsm = await jetstreamManager(nc, { checkAPI: false });
          const stored = await jsm.streams.getMessage(stream, { seq: advisory.stream_seq });
          if (!stored) {
            log.error({ stream, seq: advisory.stream_seq }, 'max-deliveries advisory for a message no longer in its stream');
            return;
          }
          await deadLetter(options.publisher, {
            stream,
            seq: stored.seq,
            subject: stored.subject,
            headers: stored.header,
            data: stored.data,
            time: stored.time,
            consumer,
            deliveries: advisory.deliveries,
            reason: DeadLetterReasons.maxDeliveries,
            error: `no worker finished delivery ${advisory.deliveries} of ${advisory.deliveries} (it crashed or exceeded ack_wait)`,
          });
          log.warn({ stream, consumer, seq: stored.seq }, 'dead-lettered a message whose last delivery was never finished');
        } catch (error) {
          log.error({ stream, consumer, err: describeError(error) }, 'could not dead-letter after a max-deliveries advisory');
        }
      })();
    },
  });
}
