import { z } from 'zod';
import { EscalationKinds, isoTime, serviceName } from '@agentbus/contracts';
import { isStateIntegrityError, isStateNotFound, refusedVersionOf, StateVersionConflictError, type RefusedVersion, type StateStore } from '@agentbus/state';

/**
 * The pages still open per service, as the versioned document `pages/<service>`: a restarted
 * notifier still resolves them, and the document's history says when each was opened and closed.
 * Only escalations that a healthy service ends are kept here (see healthEndedKinds).
 */

/** Escalation kinds that end when their service is verified healthy again. */
export const healthEndedKinds: ReadonlySet<string> = new Set(['unattributed-failure', 'rollback-failed', 'prolonged-unhealthy', 'inconclusive']);

const openPageSchema = z.object({
  dedupKey: z.string().min(1),
  kind: z.enum(EscalationKinds),
  severity: z.enum(['critical', 'error', 'warning', 'info']),
  summary: z.string(),
  /** The incident (correlationId) the escalation belongs to; its resolution is announced there. */
  incidentId: z.string().min(1),
  raisedAt: isoTime,
  escalationId: z.string().min(1),
});
export type OpenPage = z.infer<typeof openPageSchema>;

const documentSchema = z.object({
  service: serviceName,
  open: z.array(openPageSchema),
  /** The newest time the service was verified healthy (an event's time): pages raised at or before it are over. */
  verifiedAt: isoTime.optional(),
});
type PagesDocument = z.infer<typeof documentSchema>;

export const openPagesPath = (service: string) => `pages/${service}`;

const MAX_ATTEMPTS = 20;

/** What `open` found: the page is now open, was open already, or its service was verified healthy after it was raised. */
export type OpenResult = 'opened' | 'already-open' | 'already-over';

/**
 * The pages of one service as one versioned document, kept so that the order in which its
 * escalations and its verifications are handled does not matter (two notifiers, or a redelivery,
 * may handle a verification before the escalation it ends): a verification records when the
 * service was verified healthy and ends the pages raised at or before it; an escalation raised at
 * or before the newest verification is over as soon as it is recorded. Every change is written on
 * top of the version read (ifVersion), read again when another notifier wrote in between.
 */
export class OpenPages {
  /**
   * `onTampered`: a pages document that fails verification is told here (once per read) and read
   * as empty: a page is never held "already open" or "already over" on data changed past the state
   * store, and the next write starts the document afresh on top of it.
   */
  constructor(
    private readonly state: StateStore,
    private readonly onTampered: (refused: RefusedVersion, service: string) => Promise<void> = async () => {},
  ) {}

  async list(service: string): Promise<OpenPage[]> {
    return (await this.read(service)).doc.open;
  }

  /** Records a page as open, unless one with its dedupKey is open, or the service was verified healthy after it was raised. */
  async open(service: string, page: OpenPage, writeId: string): Promise<OpenResult> {
    let result: OpenResult = 'opened';
    await this.update(service, writeId, `page ${page.dedupKey} opened (${page.kind})`, (doc) => {
      if (doc.open.some((p) => p.dedupKey === page.dedupKey)) {
        result = 'already-open';
        return null;
      }
      if (doc.verifiedAt && Date.parse(page.raisedAt) <= Date.parse(doc.verifiedAt)) {
        result = 'already-over';
        return null;
      }
      return { ...doc, open: [...doc.open, page] };
    });
    return result;
  }

  /** Records a page as closed. False when it was not open. */
  async close(service: string, dedupKey: string, writeId: string): Promise<boolean> {
    return this.update(service, writeId, `page ${dedupKey} resolved`, (doc) => (doc.open.some((p) => p.dedupKey === dedupKey) ? { ...doc, open: doc.open.filter((p) => p.dedupKey !== dedupKey) } : null));
  }

  /**
   * Records that the service was verified healthy at `verifiedAt` (kept when newer than what is
   * recorded) and returns the open pages raised at or before it: those it ends.
   */
  async verified(service: string, verifiedAt: string, writeId: string): Promise<OpenPage[]> {
    await this.update(service, writeId, `verified healthy at ${verifiedAt}`, (doc) =>
      doc.verifiedAt && Date.parse(doc.verifiedAt) >= Date.parse(verifiedAt) ? null : { ...doc, verifiedAt },
    );
    return (await this.list(service)).filter((page) => Date.parse(page.raisedAt) <= Date.parse(verifiedAt));
  }

  private async read(service: string): Promise<{ version: number; doc: PagesDocument }> {
    try {
      const current = await this.state.getVerified(openPagesPath(service));
      return { version: current.envelope.number, doc: documentSchema.parse(current.data) };
    } catch (error) {
      if (isStateNotFound(error)) return { version: 0, doc: { service, open: [] } };
      if (isStateIntegrityError(error)) {
        const refused = refusedVersionOf(error);
        await this.onTampered(refused, service);
        return { version: refused.number, doc: { service, open: [] } };
      }
      throw error;
    }
  }

  /**
   * Read, change, write on top of the version read (another notifier may write in between: then
   * read again). `change` returns null when there is nothing to write. The writeId makes a retried
   * write after an unknown outcome return the version it wrote.
   */
  private async update(service: string, writeId: string, reason: string, change: (doc: PagesDocument) => PagesDocument | null): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(service);
      const next = change(current.doc);
      if (next === null) return false;
      try {
        await this.state.put(openPagesPath(service), next, { reason, agent: 'notifier', writeId, ifVersion: current.version });
        return true;
      } catch (error) {
        if (!(error instanceof StateVersionConflictError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}
