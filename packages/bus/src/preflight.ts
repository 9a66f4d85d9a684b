import { errors, headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { isPermissionViolation } from './errors.ts';

/** Something an identity must be able to do, checked when it starts (the topology lists them). */
export interface PermissionNeed {
  /** `request`: a JetStream API request (answered, or refused); `publish`/`subscribe`: refused or not. */
  kind: 'request' | 'publish' | 'subscribe';
  subject: string;
  /** What it is for, in the log line when it is missing. */
  why: string;
}

/**
 * A header that makes JetStream refuse to store a message whatever the stream holds (the last
 * sequence is never this): a probe publish on a stream subject checks the permission and stores
 * nothing.
 */
const NEVER_STORED = (() => {
  const h = headers();
  h.set('Nats-Expected-Last-Sequence', '18446744073709551615');
  return h;
})();

/**
 * Which of `needs` the server refuses this connection: requests are sent, publishes are probed
 * with a message no stream stores, subscriptions are made and dropped, and one flush later (the
 * server answers in order) every refusal has arrived as an error status. Nothing is stored, pulled
 * or acknowledged.
 */
export async function missingPermissions(nc: NatsConnection, needs: readonly PermissionNeed[]): Promise<PermissionNeed[]> {
  const refused = new Set<string>();
  const status = nc.status();
  const watching = (async () => {
    for await (const s of status) {
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) refused.add(`${s.error.operation === 'subscription' ? 'subscribe' : 'publish'} ${s.error.subject}`);
    }
  })();
  const missing: PermissionNeed[] = [];
  const subscriptions: Subscription[] = [];
  try {
    await Promise.all(
      needs
        .filter((need) => need.kind === 'request')
        .map(async (need) => {
          try {
            await nc.request(need.subject, '', { timeout: 5_000 });
          } catch (error) {
            if (isPermissionViolation(error)) missing.push(need);
          }
        }),
    );
    for (const need of needs) {
      if (need.kind === 'publish') nc.publish(need.subject, '', { headers: NEVER_STORED });
      if (need.kind === 'subscribe') subscriptions.push(nc.subscribe(need.subject, { callback: () => {} }));
    }
    await nc.flush();
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    (status as AsyncIterable<unknown> & { stop?(): void }).stop?.(); // a QueuedIterator: stopping it ends the loop above
    await watching.catch(() => {});
  }
  for (const need of needs) if (need.kind !== 'request' && refused.has(`${need.kind} ${need.subject}`)) missing.push(need);
  return missing;
}
