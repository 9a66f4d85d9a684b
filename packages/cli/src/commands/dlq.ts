import { agentbusRegistry, safeLine } from '@agentbus/contracts';
import { getDeadLetter, listDeadLetters, Publisher, redriveDeadLetter, type DeadLetter } from '@agentbus/bus';
import { booleanOption, parseInteger, stringOption, UsageError, type Command } from '../command.ts';
import { bodyBlock, bodyFields, shortTime, table, viewBody } from '../render.ts';

/** A dead letter for --json: its body as bodyFields shows it (`data`, or `dataBase64` and `dataNote`). */
function letterRecord(letter: DeadLetter): Record<string, unknown> {
  const { data, ...rest } = letter;
  return { ...rest, time: letter.time.toISOString(), ...bodyFields(viewBody(data)) };
}

export const dlqList: Command = {
  path: ['dlq', 'list'],
  summary: 'list dead letters: where each came from, which consumer gave up and why',
  usage: '[--consumer <name>]',
  options: { consumer: { type: 'string' } },
  async run(ctx, args) {
    const consumer = stringOption(args, 'consumer');
    const letters = (await listDeadLetters(await ctx.nats())).filter((l) => !consumer || l.consumer === consumer);
    for (const letter of letters) ctx.out.data(letterRecord(letter));
    if (letters.length === 0) {
      ctx.out.line('no dead letters');
      return 0;
    }
    const rows = letters.map((l) => [String(l.seq), shortTime(l.time), safeLine(l.consumer, 60), safeLine(l.reason, 40), safeLine(l.type ?? '-', 60), safeLine(`${l.original.stream}/${l.original.seq}`, 80), safeLine(l.error, 60)]);
    for (const line of table(['SEQ', 'TIME', 'CONSUMER', 'REASON', 'TYPE', 'ORIGINAL', 'ERROR'], rows)) ctx.out.line(line);
    return 0;
  },
};

export const dlqShow: Command = {
  path: ['dlq', 'show'],
  summary: 'show one dead letter in full: the failure, the original headers and body',
  usage: '<seq>',
  positionals: { min: 1, max: 1 },
  async run(ctx, args) {
    const seq = parseInteger(args.positionals[0]!, 'seq', 1);
    const letter = await getDeadLetter(await ctx.nats(), seq);
    ctx.out.data(letterRecord(letter));
    ctx.out.line(`dead letter ${letter.seq} (${shortTime(letter.time)})`);
    ctx.out.line(`  consumer:    ${safeLine(letter.consumer)}`);
    ctx.out.line(`  reason:      ${safeLine(letter.reason)}`);
    ctx.out.line(`  error:       ${safeLine(letter.error, 4000)}`);
    ctx.out.line(`  deliveries:  ${letter.deliveries}`);
    const { original } = letter;
    ctx.out.line(`  original:    ${safeLine(original.stream)} seq ${original.seq} on ${safeLine(original.subject)} (${safeLine(shortTime(original.time))}), msg id ${safeLine(original.msgId ?? '-')}`);
    if (letter.type) ctx.out.line(`  type:        ${safeLine(letter.type)}, correlation ${safeLine(letter.correlationId ?? '-')}`);
    ctx.out.line('  headers:');
    for (const [name, value] of Object.entries(letter.headers)) ctx.out.line(`    ${safeLine(name, 200)}: ${safeLine(value)}`);
    if (letter.bodyOmitted) {
      ctx.out.line(`  body: omitted (${safeLine(letter.bodyOmitted)})`);
    } else {
      const body = bodyBlock(viewBody(letter.data), '    ');
      ctx.out.line(`  ${body.heading}`);
      ctx.out.line(body.text);
    }
    return 0;
  },
};

export const dlqRedrive: Command = {
  path: ['dlq', 'redrive'],
  summary: 'put dead letters back on their original subjects (and remove them from the DLQ)',
  usage: '<seq>|--all [--dry-run]',
  positionals: { min: 0, max: 1 },
  options: { all: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
  async run(ctx, args) {
    const all = booleanOption(args, 'all');
    const seqText = args.positionals[0];
    if (all === (seqText !== undefined)) throw new UsageError('give either a dead-letter sequence number or --all');
    const seq = seqText === undefined ? undefined : parseInteger(seqText, 'seq', 1);
    const nc = await ctx.nats();
    const letters = seq === undefined ? await listDeadLetters(nc) : [await getDeadLetter(nc, seq)];
    const dryRun = booleanOption(args, 'dry-run');
    const publisher = new Publisher(nc, { registry: agentbusRegistry, source: 'agentbus-dlq' });
    for (const letter of letters) {
      if (dryRun) {
        ctx.out.data({ seq: letter.seq, subject: letter.original.subject, redrive: 'dry-run' });
        ctx.out.line(`would redrive dead letter ${letter.seq} (${safeLine(letter.type ?? 'unknown type')}, ${safeLine(letter.reason)}) to ${safeLine(letter.original.subject)}`);
        continue;
      }
      const result = await redriveDeadLetter(nc, publisher, letter);
      ctx.out.data({ seq: letter.seq, subject: result.subject, redriven: { stream: result.stream, seq: result.seq, duplicate: result.duplicate } });
      ctx.out.line(`redrove dead letter ${letter.seq} to ${safeLine(result.subject)} → ${result.stream} seq ${result.seq}`);
    }
    if (letters.length === 0) ctx.out.line('no dead letters');
    else if (dryRun) ctx.out.line(`dry run: ${letters.length} dead letter(s) would be redriven; nothing was sent`);
    return 0;
  },
};
