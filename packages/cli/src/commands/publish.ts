import { agentbusRegistry, createEnvelope, getDefinition, type MessageTypeOf } from '@agentbus/contracts';
import { Publisher } from '@agentbus/bus';
import { z } from 'zod';
import { parseJsonOption, requireOption, stringOption, type Command } from '../command.ts';
import { table } from '../render.ts';

type Type = MessageTypeOf<typeof agentbusRegistry>;

export const publish: Command = {
  path: ['publish'],
  summary: 'validate a message and publish it; prints stream, sequence and whether it was a duplicate',
  usage: '<type> --data <json>|@file|- [--id <msg-id>] [--correlation-id <id>] [--source <name>]',
  positionals: { min: 1, max: 1 },
  options: { data: { type: 'string' }, id: { type: 'string' }, 'correlation-id': { type: 'string' }, source: { type: 'string' } },
  async run(ctx, args) {
    const type = args.positionals[0] as Type;
    getDefinition(agentbusRegistry, type);
    const data = parseJsonOption(requireOption(args, 'data'), '--data', 'message');
    const source = stringOption(args, 'source') ?? 'agentbus-cli';
    const envelope = createEnvelope(agentbusRegistry, type, data as never, { source, id: stringOption(args, 'id'), correlationId: stringOption(args, 'correlation-id') });
    const nc = await ctx.nats();
    const result = await new Publisher(nc, { registry: agentbusRegistry, source }).publishEnvelope(envelope);
    ctx.out.data({ ...result, correlationId: envelope.correlationId });
    ctx.out.line(`${result.duplicate ? 'duplicate of' : 'published'} ${result.type} ${result.id} → ${result.stream} seq ${result.seq}${result.duplicate ? ' (already stored: nothing new was written)' : ''}`);
    return 0;
  },
};

export const types: Command = {
  path: ['types'],
  summary: 'list the message types, or show the JSON schema of one',
  usage: '[<type>]',
  positionals: { min: 0, max: 1 },
  async run(ctx, args) {
    const name = args.positionals[0];
    if (name) {
      const definition = getDefinition(agentbusRegistry, name);
      const schema = z.toJSONSchema(definition.schema, { io: 'input', unrepresentable: 'any' });
      ctx.out.data({ type: definition.type, kind: definition.kind, subject: definition.subject, stream: definition.stream, description: definition.description, schema });
      ctx.out.line(`${definition.type} (${definition.kind}) on ${definition.subject} in ${definition.stream}`);
      ctx.out.line(definition.description);
      ctx.out.line(JSON.stringify(schema, null, 2));
      return 0;
    }
    const all = Object.values(agentbusRegistry).sort((a, b) => a.type.localeCompare(b.type));
    for (const d of all) ctx.out.data({ type: d.type, kind: d.kind, subject: d.subject, stream: d.stream, description: d.description });
    for (const line of table(['TYPE', 'KIND', 'SUBJECT', 'DESCRIPTION'], all.map((d) => [d.type, d.kind, d.subject, d.description]))) ctx.out.line(line);
    return 0;
  },
};
