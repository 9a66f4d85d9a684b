import { z } from 'zod';
import { EscalationKinds, isoTime, serviceName } from '@agentbus/contracts';
import { isStateNotFound, StateVersionConflictError, type StateStore } from '@agentbus/state';

/**
 * The pages still open per service, as the versioned document `pages/<service>`: a restarted
 * notifier still resolves them, and the document's history says when each was opened and closed.
 * Only escalations that a healthy service ends are kept here (see healthEndedKinds).
 */

/** Escalation kinds that end when their service is verified healthy again. */
export const healthEndedKinds: ReadonlySet<string> = new Set(['unattributed-failure', 'rollback-failed', 'prolonged-unhealthy']);

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

const documentSchema = z.object({ service: serviceName, open: z.array(openPageSchema) });

export const openPagesPath = (service: string) => `pages/${service}`;

const MAX_ATTEMPTS = 20;

export class OpenPages {
  constructor(private readonly state: StateStore) {}

  async list(service: string): Promise<OpenPage[]> {
    return (await this.read(service)).open;
  }

  /** Records a page as open. False when a page with its dedupKey is open already (nothing written). */
  async open(service: string, page: OpenPage, writeId: string): Promise<boolean> {
    return this.update(service, writeId, `page ${page.dedupKey} opened (${page.kind})`, (open) => (open.some((p) => p.dedupKey === page.dedupKey) ? null : [...open, page]));
  }

  /** Records a page as closed. False when it was not open. */
  async close(service: string, dedupKey: string, writeId: string): Promise<boolean> {
    return this.update(service, writeId, `page ${dedupKey} resolved`, (open) => (open.some((p) => p.dedupKey === dedupKey) ? open.filter((p) => p.dedupKey !== dedupKey) : null));
  }

  private async read(service: string): Promise<{ version: number; open: OpenPage[] }> {
    try {
      const current = await this.state.get(openPagesPath(service));
      return { version: current.envelope.number, open: documentSchema.parse(current.data).open };
    } catch (error) {
      if (isStateNotFound(error)) return { version: 0, open: [] };
      throw error;
    }
  }

  /**
   * Read, change, write on top of the version read (another notifier may write in between: then
   * read again). `change` returns null when there is nothing to write. The writeId makes a retried
   * write after an unknown outcome return the version it wrote.
   */
  private async update(service: string, writeId: string, reason: string, change: (open: OpenPage[]) => OpenPage[] | null): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(service);
      const next = change(current.open);
      if (next === null) return false;
      try {
        await this.state.put(openPagesPath(service), { service, open: next }, { reason, agent: 'notifier', writeId, ifVersion: current.version });
        return true;
      } catch (error) {
        if (!(error instanceof StateVersionConflictError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}
