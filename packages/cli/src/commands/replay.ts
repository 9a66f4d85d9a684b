import { agentbusRegistry, safeLine } from '@agentbus/contracts';
import { Headers, Publisher, readStream, republish } from '@agentbus/bus';
import { booleanOption, parseInteger, requireOption, stringOption, UsageError, type Command } from '../command.ts';
import { bodyFields, bodyLine, shortTime, viewBody } from '../render.ts';

export const replay: Command = {
  path: ['replay'],
  summary: 'print a stream\'s messages from a sequence number, or re-send them (--republish)',
  usage: '--stream <S> --from-seq <N> [--to-seq <M>] [--subject <filter>] [--republish [--dry-run]]',
  options: {
    stream: { type: 'string' },
    'from-seq': { type: 'string' },
    'to-seq': { type: 'string' },
    subject: { type: 'string' },
    republish: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  async run(ctx, args) {
    const stream = requireOption(args, 'stream');
    const fromSeq = parseInteger(requireOption(args, 'from-seq'), '--from-seq', 1);
    const toText = stringOption(args, 'to-seq');
    const toSeq = toText === undefined ? undefined : parseInteger(toText, '--to-seq', 1);
    if (toSeq !== undefined && toSeq < fromSeq) throw new UsageError(`--to-seq ${toSeq} is before --from-seq ${fromSeq}`);
    const resend = booleanOption(args, 'republish');
    const dryRun = booleanOption(args, 'dry-run');
    if (dryRun && !resend) throw new UsageError('--dry-run only applies with --republish');
    const nc = await ctx.nats();
    const publisher = resend && !dryRun ? new Publisher(nc, { registry: agentbusRegistry, source: 'agentbus-replay' }) : undefined;
    let count = 0;
    for await (const message of readStream(nc, { stream, fromSeq, toSeq, subject: stringOption(args, 'subject') })) {
      count++;
      const body = viewBody(message.data);
      const record = { seq: message.seq, subject: message.subject, time: message.time.toISOString(), headers: message.headers, ...bodyFields(body) };
      const type = safeLine(message.headers[Headers.type] ?? '-', 100);
      if (!resend) {
        ctx.out.data(record);
        ctx.out.line(`${String(message.seq).padStart(6)}  ${shortTime(message.time)}  ${safeLine(message.subject, 200)}  ${type}  ${bodyLine(body, 120)}`);
      } else if (!publisher) {
        ctx.out.data({ ...record, republish: 'dry-run' });
        ctx.out.line(`would re-send seq ${message.seq} (${type}) to ${safeLine(message.subject, 200)}`);
      } else {
        const result = await republish(publisher, message);
        ctx.out.data({ seq: message.seq, subject: message.subject, republished: { stream: result.stream, seq: result.seq, duplicate: result.duplicate } });
        ctx.out.line(`re-sent seq ${message.seq} (${type}) to ${safeLine(message.subject, 200)} → ${result.stream} seq ${result.seq}${result.duplicate ? ' (duplicate: already re-sent inside the duplicate window)' : ''}`);
      }
    }
    if (count === 0) ctx.out.note(`no messages in ${stream} from sequence ${fromSeq}${toSeq ? ` to ${toSeq}` : ''}${stringOption(args, 'subject') ? ` on ${stringOption(args, 'subject')}` : ''}`);
    else if (resend && !publisher) ctx.out.line(`dry run: ${count} message(s) would be re-sent; nothing was sent`);
    return 0;
  },
};
