import type { NatsConnection } from '@nats-io/transport-node';
import { StreamNames } from '@agentbus/contracts';
import { Headers, readStream, toDeadLetter } from '@agentbus/bus';
import type { DeadLetterFact, TaskFact, ChangeFacts } from '@agentbus/incident';
import type { FleetService } from '@agentbus/fleet';
import { openServiceRepo } from '@agentbus/fleet';

/** The tasks (AGENT_TASKS) of one incident stored since `since`. */
export async function collectTasks(nc: NatsConnection, incidentId: string, since: Date): Promise<TaskFact[]> {
  const tasks: TaskFact[] = [];
  for await (const m of readStream(nc, { stream: StreamNames.tasks, fromTime: since })) {
    if (m.headers[Headers.correlationId] !== incidentId) continue;
    tasks.push({ id: m.headers[Headers.msgId] ?? `${StreamNames.tasks}/${m.seq}`, type: m.headers[Headers.type] ?? 'unknown', time: m.time.toISOString(), source: m.subject });
  }
  return tasks;
}

/** The dead letters of one incident (they keep the original's correlation header). */
export async function collectDeadLetters(nc: NatsConnection, incidentId: string, since: Date): Promise<DeadLetterFact[]> {
  const letters: DeadLetterFact[] = [];
  for await (const m of readStream(nc, { stream: StreamNames.dlq, fromTime: since })) {
    if (m.headers[Headers.correlationId] !== incidentId) continue;
    const letter = toDeadLetter(m);
    letters.push({ seq: letter.seq, consumer: letter.consumer, reason: letter.reason, error: letter.error, type: letter.type });
  }
  return letters;
}

/** What git says about the merge: the merged tip's author and message, the files the merge brought. */
export async function changeFacts(service: FleetService, mergeCommit: string): Promise<ChangeFacts> {
  const repo = openServiceRepo(service);
  const merge = await repo.commitDetails(mergeCommit);
  const tip = merge.isMerge && merge.parents[1] ? await repo.commitDetails(merge.parents[1]) : merge;
  return {
    mergeCommit,
    author: `${tip.author.name} <${tip.author.email}>`,
    authoredAt: tip.author.date,
    subject: tip.subject,
    body: tip.body,
    files: merge.files.map((f) => ({ path: f.path, added: f.added, deleted: f.deleted })),
    totals: merge.totals,
  };
}
