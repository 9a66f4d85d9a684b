import { z } from 'zod';
import { AgentbusError, ContractsErrorCodes } from './errors.ts';
import { envelopeSchema, wrapEnvelope, type Envelope, type EnvelopeMeta } from './envelope.ts';
import { jsonDataProblem } from './json-data.ts';
import { streamForSubject, type StreamName } from './subjects.ts';

/** task: work for one agent; event: a fact; timer: a durable schedule its consumer redelivers to itself when due. */
export const MessageKinds = { task: 'task', event: 'event', timer: 'timer' } as const;
export type MessageKind = (typeof MessageKinds)[keyof typeof MessageKinds];

/** One message type: its name, where it travels and the zod schema of its data. */
export interface MessageDefinition<Type extends string = string, Schema extends z.ZodType = z.ZodType> {
  type: Type;
  kind: MessageKind;
  /** Where messages of this type travel; a pattern ending in `>` when `subjectFor` picks one per message. */
  subject: string;
  /**
   * The subject of one message, from its validated data, within `subject` (a pattern): for timers
   * of which many run at once, each on its own subject (the timers stream keeps one per subject).
   */
  subjectFor?: (data: z.output<Schema>) => string;
  stream: StreamName;
  description: string;
  schema: Schema;
}

export function defineMessage<const Type extends string, Schema extends z.ZodType>(definition: {
  type: Type;
  kind: MessageKind;
  subject: string;
  subjectFor?: (data: z.output<Schema>) => string;
  description: string;
  schema: Schema;
}): MessageDefinition<Type, Schema> {
  if (definition.subjectFor && !definition.subject.endsWith('.>')) throw new Error(`${definition.type}: a type whose subjectFor picks the subject needs a subject pattern ending in .>`);
  return { ...definition, stream: streamForSubject(definition.subject) };
}

/**
 * Whether a message of `definition` belongs on `subject`: its own subject, or one within its
 * pattern (`schedule.followup.>`). A type is acted on only where it belongs, so permission to
 * publish on a subject is permission to publish that subject's types and nothing else.
 */
export function belongsOn(definition: Pick<MessageDefinition, 'subject'>, subject: string): boolean {
  if (!definition.subject.endsWith('.>')) return subject === definition.subject;
  const prefix = definition.subject.slice(0, -1);
  return subject.startsWith(prefix) && subject.length > prefix.length && subject.split('.').every(Boolean);
}

/** The subject a message of `definition` with this (validated) data is published on. */
export function subjectOf(definition: MessageDefinition, data: unknown): string {
  if (!definition.subjectFor) return definition.subject;
  const subject = definition.subjectFor(data);
  if (!subject.startsWith(definition.subject.slice(0, -1)) || !/^[^\s*>]+$/.test(subject) || subject.split('.').some((token) => !token)) {
    throw new Error(`${definition.type}: subjectFor gave ${JSON.stringify(subject)}, not a subject within ${definition.subject}`);
  }
  return subject;
}

/** A set of message types, keyed by type name. */
export type Registry = Record<string, MessageDefinition>;

export type MessageTypeOf<R extends Registry> = keyof R & string;
/** Data as a publisher writes it (defaults may be omitted). */
export type DataInput<R extends Registry, T extends MessageTypeOf<R>> = z.input<R[T]['schema']>;
/** Data as a handler receives it (after validation and defaults). */
export type DataOf<R extends Registry, T extends MessageTypeOf<R>> = z.output<R[T]['schema']>;
export type EnvelopeOf<R extends Registry, T extends MessageTypeOf<R>> = Envelope<T, DataOf<R, T>>;
/** Any envelope of the registry, as a union discriminated by `type` (narrow with a switch). */
export type AnyEnvelopeOf<R extends Registry> = { [T in MessageTypeOf<R>]: EnvelopeOf<R, T> }[MessageTypeOf<R>];

export function defineRegistry<const Defs extends readonly MessageDefinition[]>(
  definitions: Defs,
): { [D in Defs[number] as D['type']]: D } {
  const registry: Record<string, MessageDefinition> = {};
  for (const definition of definitions) {
    if (registry[definition.type]) throw new Error(`message type ${definition.type} is defined twice`);
    registry[definition.type] = definition;
  }
  return registry as { [D in Defs[number] as D['type']]: D };
}

/** Validation of a message failed: the message can never succeed as it is. */
export class MessageValidationError extends AgentbusError {
  declare readonly code: (typeof ContractsErrorCodes)[keyof typeof ContractsErrorCodes];
  constructor(code: (typeof ContractsErrorCodes)[keyof typeof ContractsErrorCodes], message: string, hint: string, details: Record<string, unknown> = {}) {
    super(code, message, { hint, details, retryable: false });
  }
}

export function isMessageValidationError(error: unknown): error is MessageValidationError {
  return error instanceof MessageValidationError;
}

/** "data.service: expected string, received undefined; data.ref: …": every problem, each naming its field. */
export function formatIssues(error: z.ZodError, root: string): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

export function getDefinition<R extends Registry>(registry: R, type: string): R[MessageTypeOf<R>] {
  const definition = registry[type];
  if (!definition) {
    const known = Object.keys(registry).sort();
    const close = known.filter((name) => name.split('.')[0] === type.split('.')[0]);
    throw new MessageValidationError(
      'unknown-type',
      `unknown message type "${type}"`,
      `known types: ${(close.length ? close : known).join(', ')} (run \`agentbus types\` for all)`,
      { type },
    );
  }
  return definition as R[MessageTypeOf<R>];
}

/**
 * Throws MessageValidationError `invalid-data` when `data` is not JSON nested at most
 * MAX_MESSAGE_DEPTH levels (see jsonDataProblem), naming the field and the limit.
 */
export function assertMessageData(type: string, data: unknown): void {
  const problem = jsonDataProblem(data);
  if (!problem) return;
  throw new MessageValidationError('invalid-data', `invalid data for ${type}: ${problem.path} ${problem.problem}`, problem.hint, {
    type,
    issues: [{ path: problem.path, message: problem.problem }],
  });
}

/**
 * Validates `data` against the schema of `type`; the error names every bad field. First, without
 * recursion, that it is JSON nested at most MAX_MESSAGE_DEPTH levels (jsonDataProblem): data a
 * publisher could not serialize, or a consumer could not handle, is `invalid-data` like any other.
 * Free-text fields come out made safe (see outsideText in messages/fields.ts).
 */
export function validateData<R extends Registry, T extends MessageTypeOf<R>>(registry: R, type: T, data: unknown): DataOf<R, T> {
  const definition = getDefinition(registry, type);
  assertMessageData(type, data);
  const result = definition.schema.safeParse(data);
  if (!result.success) {
    throw new MessageValidationError('invalid-data', `invalid data for ${type}: ${formatIssues(result.error, 'data')}`, `fix the named fields; the schema of ${type} is shown by \`agentbus types ${type}\``, {
      type,
      issues: result.error.issues.map((issue) => ({ path: ['data', ...issue.path.map(String)].join('.'), message: issue.message })),
    });
  }
  return result.data as DataOf<R, T>;
}

/** Builds a validated envelope: unknown types and bad data throw MessageValidationError. */
export function createEnvelope<R extends Registry, T extends MessageTypeOf<R>>(
  registry: R,
  type: T,
  data: DataInput<R, T>,
  meta: EnvelopeMeta,
): EnvelopeOf<R, T> {
  const valid = validateData(registry, type, data);
  const envelope = wrapEnvelope(type, valid, meta);
  const checked = envelopeSchema.safeParse(envelope);
  if (!checked.success) {
    throw new MessageValidationError('invalid-envelope', `invalid envelope: ${formatIssues(checked.error, '')}`, 'check --id and the source name', {});
  }
  return envelope;
}

/**
 * Reads a message body off the wire as an envelope without validating its data: JSON first,
 * then the envelope fields. Throws MessageValidationError `malformed-json` or `invalid-envelope`.
 */
export function decodeEnvelope(body: Uint8Array | string): Envelope {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
  } catch (error) {
    throw new MessageValidationError('malformed-json', `message body is not JSON: ${(error as Error).message}`, 'publish with `agentbus publish` or the bus client, which write JSON envelopes');
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) {
    throw new MessageValidationError('invalid-envelope', `message is not an agentbus envelope: ${formatIssues(envelope.error, '')}`, 'every message needs id, type, source, time, correlationId and data');
  }
  return envelope.data as Envelope;
}

/**
 * Parses a message body off the wire: JSON, envelope, known type, valid data — in that order,
 * each failure a MessageValidationError with its own code. Never throws anything else.
 */
export function parseEnvelope<R extends Registry>(registry: R, body: Uint8Array | string): EnvelopeOf<R, MessageTypeOf<R>> {
  const envelope = decodeEnvelope(body);
  const type = envelope.type as MessageTypeOf<R>;
  const data = validateData(registry, type, envelope.data);
  return { ...envelope, type, data } as EnvelopeOf<R, MessageTypeOf<R>>;
}
