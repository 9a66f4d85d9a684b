/** The three streams of agentbus and the subjects they own (ARCHITECTURE.md "Messages"). */
export const StreamNames = {
  tasks: 'AGENT_TASKS',
  events: 'AGENT_EVENTS',
  dlq: 'AGENT_DLQ',
  /** Durable timers: one message per schedule, redelivered (nak with a delay) each time it is due. */
  schedule: 'AGENT_SCHEDULE',
} as const;
export type StreamName = (typeof StreamNames)[keyof typeof StreamNames];

export const StreamSubjects: Record<StreamName, string[]> = {
  AGENT_TASKS: ['agents.*.tasks.>', 'agents.*.inbox'],
  AGENT_EVENTS: ['events.>'],
  AGENT_DLQ: ['dlq.>'],
  AGENT_SCHEDULE: ['schedule.>'],
};

/** `agents.<agent>.tasks.<verb>`: a task for one agent. */
export function taskSubject(agent: string, verb: string): string {
  return `agents.${agent}.tasks.${verb}`;
}

/** `events.<domain>.<what>`: a fact that happened. */
export function eventSubject(type: string): string {
  return `events.${type}`;
}

/** `schedule.<name>`: a durable timer (one message per subject, kept until it is acknowledged). */
export function scheduleSubject(name: string): string {
  return `schedule.${name}`;
}

/** `dlq.<stream>.<consumer>`: where a consumer's dead letters go. */
export function dlqSubject(stream: string, consumer: string): string {
  return `dlq.${stream}.${consumer}`;
}

export function streamForSubject(subject: string): StreamName {
  if (subject.startsWith('agents.')) return StreamNames.tasks;
  if (subject.startsWith('events.')) return StreamNames.events;
  if (subject.startsWith('dlq.')) return StreamNames.dlq;
  if (subject.startsWith('schedule.')) return StreamNames.schedule;
  throw new Error(`subject ${subject} belongs to no agentbus stream (agents.*, events.*, dlq.*, schedule.*)`);
}
