import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import {
  chainBreakEscalation,
  ensureStateBucket,
  formatChanges,
  generateSigningKey,
  openStateBackendFrom,
  StateBucketMissingError,
  StateStore,
  DEFAULT_STATE_BUCKET,
  type SigningOptions,
  type VerifyReport,
  type VersionEnvelope,
  type VersionSelector,
} from '@agentbus/state';
import { booleanOption, parseInteger, parseJsonOption, requireOption, stringOption, UsageError, type Command, type CommandContext, type ParsedArgs } from '../command.ts';
import { shortTime, table } from '../render.ts';
import { AgentbusError, agentbusRegistry, describeError, ellipsize, safeText } from '@agentbus/contracts';
import { Publisher } from '@agentbus/bus';

/**
 * `agentbus state …`: versioned documents. The commands only parse, call @agentbus/state and
 * print; the backend comes from AGENTBUS_STATE_BACKEND (nats-kv on the agentbus NATS, or
 * firestore with FIRESTORE_PROJECT_ID and optionally FIRESTORE_EMULATOR_HOST).
 */

export async function openStore(ctx: CommandContext, options: { agent?: string; signing?: SigningOptions } = {}): Promise<StateStore> {
  const backend = await openStateBackendFrom(ctx.config.state, () => ctx.nats());
  const store = new StateStore({ backend, ...options });
  ctx.onExit(() => store.close());
  return store;
}

/** Runs a write; on nats-kv without the bucket, creates it once (what `agentbus streams apply` would do) and says so. */
async function writing<T>(ctx: CommandContext, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof StateBucketMissingError) || ctx.config.state.backend !== 'nats-kv') throw error;
    await ensureStateBucket(await ctx.nats());
    ctx.out.note(`created the state bucket ${DEFAULT_STATE_BUCKET} on this NATS server (\`agentbus streams apply\` normally creates it)`);
    return write();
  }
}

function defaultAgent(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

const writeOptions = {
  reason: { type: 'string' },
  agent: { type: 'string' },
  'task-id': { type: 'string' },
  'write-id': { type: 'string' },
  'sign-key': { type: 'string' },
} as const;

function writerOptions(args: ParsedArgs): { agent: string; signing?: SigningOptions } {
  const agent = stringOption(args, 'agent') ?? defaultAgent();
  const keyFile = stringOption(args, 'sign-key');
  if (keyFile === undefined) return { agent };
  return { agent, signing: { privateKeys: { [agent]: readKeyFile(keyFile, '--sign-key') } } };
}

function readKeyFile(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag} ${file}: cannot read the key file: ${(error as Error).message}`, 'create a key pair with `agentbus state keygen <agent>`');
  }
}

/** `<dir>/<agent>.pub.pem` files (several PEM blocks in one file after a key rotation). */
function readTrustedKeys(dir: string): Record<string, string[]> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.pub.pem'));
  } catch (error) {
    throw new UsageError(`--trust-keys ${dir}: cannot read the directory: ${(error as Error).message}`, 'give the directory that holds <agent>.pub.pem files (agentbus state keygen writes them)');
  }
  if (files.length === 0) throw new UsageError(`--trust-keys ${dir}: no <agent>.pub.pem files there`, 'copy the agents\' public keys (agentbus state keygen writes <agent>.pub.pem) into it');
  const keys: Record<string, string[]> = {};
  for (const file of files) {
    const blocks = readFileSync(join(dir, file), 'utf8').match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
    keys[file.slice(0, -'.pub.pem'.length)] = blocks;
  }
  return keys;
}

function integerOption(args: ParsedArgs, name: string, min: number): number | undefined {
  const text = stringOption(args, name);
  return text === undefined ? undefined : parseInteger(text, `--${name}`, min);
}

function versionArgument(text: string, name: string): VersionSelector {
  return text === 'head' ? 'head' : parseInteger(text, name, 1);
}

function shortHash(hash: string | null): string {
  return hash ? hash.replace(/^sha256:/, '').slice(0, 12) : '-';
}

function describeOperation(envelope: VersionEnvelope): string {
  return envelope.operation === 'restore' ? `restore of version ${envelope.restoredFrom}` : envelope.operation;
}

export const statePut: Command = {
  path: ['state', 'put'],
  summary: 'write a new version of a document (the previous versions are kept)',
  usage: '<collection>/<id> --data <json>|@file|- --reason <text> [--agent <name>] [--task-id <id>] [--write-id <id>] [--if-version <n>] [--sign-key <file>]',
  positionals: { min: 1, max: 1 },
  options: { ...writeOptions, data: { type: 'string' }, 'if-version': { type: 'string' } },
  async run(ctx, args) {
    const path = args.positionals[0]!;
    const data = parseJsonOption(requireOption(args, 'data'), '--data', 'document');
    const reason = requireOption(args, 'reason');
    const ifVersion = integerOption(args, 'if-version', 0);
    const store = await openStore(ctx, writerOptions(args));
    const result = await writing(ctx, () => store.put(path, data, { reason, taskId: stringOption(args, 'task-id'), writeId: stringOption(args, 'write-id'), ifVersion }));
    const { envelope } = result.version;
    ctx.out.data({ path: result.path, created: result.created, attempts: result.attempts, envelope, signed: result.version.signature !== null });
    ctx.out.line(
      result.created
        ? `wrote ${result.path} version ${envelope.number} (${shortHash(envelope.hash)}) as ${envelope.agent}: ${envelope.reason}`
        : `${result.path}: writeId ${envelope.writeId} already wrote version ${envelope.number}; nothing new was written`,
    );
    return 0;
  },
};

export const stateGet: Command = {
  path: ['state', 'get'],
  summary: 'show a document: the latest version, or --version N; a version that fails verification is refused (exit 1) unless --unverified',
  usage: '<collection>/<id> [--version <n>] [--unverified]',
  positionals: { min: 1, max: 1 },
  options: { version: { type: 'string' }, unverified: { type: 'boolean' } },
  async run(ctx, args) {
    const version = stringOption(args, 'version') === 'head' ? undefined : integerOption(args, 'version', 1);
    const store = await openStore(ctx);
    const record = await store.get(args.positionals[0]!, { version });
    const { envelope } = record;
    if (record.integrity && !booleanOption(args, 'unverified')) {
      throw new AgentbusError('state-integrity', `${envelope.path} version ${envelope.number} fails verification (${record.integrity.reason}): ${record.integrity.message}`, {
        hint: `its data is not shown: \`agentbus state get ${envelope.path}${version ? ` --version ${version}` : ''} --unverified\` prints it anyway; \`agentbus state verify ${envelope.path}\` shows the damage; \`agentbus state restore\` writes an intact version back`,
        details: { path: envelope.path, number: envelope.number, reason: record.integrity.reason },
      });
    }
    ctx.out.data({ path: envelope.path, number: envelope.number, envelope, data: record.data, signature: record.signature, committedAt: record.committedAt ?? null, integrity: record.integrity });
    ctx.out.line(`${envelope.path} version ${envelope.number}`);
    ctx.out.line(`  time:      ${envelope.timestamp}${record.committedAt ? ` (committed ${record.committedAt})` : ''}`);
    ctx.out.line(`  agent:     ${envelope.agent}${envelope.taskId ? ` (task ${envelope.taskId})` : ''}`);
    ctx.out.line(`  reason:    ${envelope.reason}`);
    ctx.out.line(`  operation: ${describeOperation(envelope)}`);
    ctx.out.line(`  hash:      ${envelope.hash}`);
    ctx.out.line(`  previous:  ${envelope.previousHash ?? '(none: first version)'}`);
    ctx.out.line(`  writeId:   ${envelope.writeId}`);
    ctx.out.line(`  signed:    ${record.signature ? `yes (key ${record.signature.keyId})` : 'no'}`);
    ctx.out.line(safeText(JSON.stringify(record.data, null, 2), { max: Number.MAX_SAFE_INTEGER })); // C1 controls and bidi overrides JSON leaves as they are
    if (record.integrity) ctx.out.note(`warning: ${record.integrity.message}; run \`agentbus state verify ${envelope.path}\``);
    return 0;
  },
};

export const stateHistory: Command = {
  path: ['state', 'history'],
  summary: 'list the versions of a document, newest first: number, time, agent, reason, hash',
  usage: '<collection>/<id> [--limit <n>] [--before <n>]',
  positionals: { min: 1, max: 1 },
  options: { limit: { type: 'string' }, before: { type: 'string' } },
  async run(ctx, args) {
    const limit = integerOption(args, 'limit', 1);
    const before = integerOption(args, 'before', 1);
    const store = await openStore(ctx);
    const history = await store.history(args.positionals[0]!, { limit, before });
    ctx.out.data(history);
    const rows = history.entries.map((entry) => {
      const e = entry.envelope;
      if (!e) return [String(entry.number), '-', '-', '-', `(${entry.integrity?.reason}: run agentbus state verify)`, '-'];
      const reason = entry.integrity ? `${e.reason} (${entry.integrity.reason}!)` : e.reason;
      return [String(e.number), shortTime(e.timestamp), ellipsize(e.agent, 24), e.operation === 'restore' ? `restore←${e.restoredFrom}` : e.operation, ellipsize(reason, 60), shortHash(e.hash)];
    });
    for (const line of table(['VERSION', 'TIME', 'AGENT', 'OP', 'REASON', 'HASH'], rows)) ctx.out.line(line);
    const oldest = history.entries.at(-1)?.number ?? 1;
    if (oldest > 1) ctx.out.line(`(versions ${oldest - 1} and older: --before ${oldest})`);
    return 0;
  },
};

export const stateDiff: Command = {
  path: ['state', 'diff'],
  summary: 'field-level differences between two versions of a document (a number or "head")',
  usage: '<collection>/<id> <a> <b>',
  positionals: { min: 3, max: 3 },
  async run(ctx, args) {
    const [path, a, b] = args.positionals as [string, string, string];
    const store = await openStore(ctx);
    const diff = await store.diff(path, versionArgument(a, 'version a'), versionArgument(b, 'version b'));
    ctx.out.data(diff);
    ctx.out.line(`${diff.path}: version ${diff.from.number} → version ${diff.to.number}`);
    for (const side of [diff.from, diff.to]) ctx.out.line(`  ${side.number}: ${shortTime(side.timestamp)} ${side.agent}: ${side.reason}`);
    for (const line of formatChanges(diff.changes)) ctx.out.line(line);
    return 0;
  },
};

export const stateRestore: Command = {
  path: ['state', 'restore'],
  summary: 'write a new version whose data equals version N (nothing earlier changes); --dry-run shows the diff',
  usage: '<collection>/<id> --version <n> --reason <text> [--dry-run] [--agent <name>] [--task-id <id>] [--write-id <id>] [--sign-key <file>]',
  positionals: { min: 1, max: 1 },
  options: { ...writeOptions, version: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  async run(ctx, args) {
    const version = parseInteger(requireOption(args, 'version'), '--version', 1);
    const reason = requireOption(args, 'reason');
    const dryRun = booleanOption(args, 'dry-run');
    const store = await openStore(ctx, writerOptions(args));
    const result = await writing(ctx, () => store.restore(args.positionals[0]!, version, { reason, dryRun, taskId: stringOption(args, 'task-id'), writeId: stringOption(args, 'write-id') }));
    ctx.out.data(result);
    if (result.dryRun) {
      ctx.out.line(
        result.changes.length === 0
          ? `dry run: ${result.path} (version ${result.from.number}) already has the data of version ${version}; a restore would write nothing`
          : `dry run: restoring ${result.path} to version ${version} would write version ${result.from.number + 1}, changing version ${result.from.number} like this:`,
      );
    } else if (!result.written) {
      ctx.out.line(`${result.path} (version ${result.version.number}) already has the data of version ${version}; nothing was written`);
    } else {
      ctx.out.line(`restored ${result.path} to version ${version}: wrote version ${result.version.number} (${shortHash(result.version.hash)}); changes from version ${result.from.number}:`);
    }
    if (result.changes.length > 0) for (const line of formatChanges(result.changes)) ctx.out.line(`  ${line}`);
    if (result.dryRun) ctx.out.line('nothing was written');
    return 0;
  },
};

function printReport(ctx: CommandContext, report: VerifyReport): void {
  const signatures = report.signatures.checked
    ? `signatures: ${report.signatures.valid} valid, ${report.signatures.unsigned} unsigned, ${report.signatures.invalid} invalid, ${report.signatures.unverifiable} unverifiable`
    : `${report.signatures.valid + report.signatures.unsigned + report.signatures.unverifiable} version(s) not signature-checked (no --trust-keys)`;
  if (report.ok) {
    ctx.out.line(`ok   ${report.path}: ${report.versions} version(s), head ${report.head ?? '-'}; ${signatures}`);
  } else {
    const first = report.firstBad!;
    ctx.out.line(`BAD  ${report.path}: first bad version ${first.number} (${first.reason}): ${first.message}`);
    for (const problem of report.problems.slice(1, 10)) ctx.out.line(`       version ${problem.number} (${problem.reason}): ${problem.message}`);
    if (report.problems.length > 10) ctx.out.line(`       … and ${report.problems.length - 10} more (--json lists them all)`);
  }
  for (const warning of report.warnings) ctx.out.line(`     note: version ${warning.number} (${warning.reason}): ${warning.message}`);
}

export const stateVerify: Command = {
  path: ['state', 'verify'],
  summary: 'recompute every hash and link of a document (or --all) and name the first bad version; exit 0 only if all check out',
  usage: '<collection>/<id>|--all [--trust-keys <dir>] [--require-signatures] [--no-escalate]',
  positionals: { min: 0, max: 1 },
  options: { all: { type: 'boolean' }, 'trust-keys': { type: 'string' }, 'require-signatures': { type: 'boolean' }, 'no-escalate': { type: 'boolean' } },
  async run(ctx, args) {
    const all = booleanOption(args, 'all');
    const path = args.positionals[0];
    if (all === (path !== undefined)) throw new UsageError('give either a document path or --all');
    const trustDir = stringOption(args, 'trust-keys');
    const requireSignatures = booleanOption(args, 'require-signatures');
    if (requireSignatures && trustDir === undefined) throw new UsageError('--require-signatures needs --trust-keys <dir> to check the signatures with');
    const store = await openStore(ctx, { signing: { publicKeys: trustDir === undefined ? {} : readTrustedKeys(trustDir), requireSignatures } });
    const damaged: VerifyReport[] = [];
    if (path !== undefined) {
      const report = await store.verify(path);
      ctx.out.data(report);
      printReport(ctx, report);
      if (!report.ok) damaged.push(report);
    } else {
      const result = await store.verifyAll((report) => printReport(ctx, report));
      ctx.out.data(result);
      damaged.push(...result.documents.filter((report) => !report.ok));
      ctx.out.line(result.documents.length === 0 ? 'no versioned documents' : `${result.documents.length} document(s) checked, ${damaged.length} damaged`);
    }
    if (damaged.length > 0 && !booleanOption(args, 'no-escalate')) await escalateChainBreaks(ctx, damaged);
    return damaged.length === 0 ? 0 : 1;
  },
};

/** Each damaged document raises its chain-break escalation (chainBreakEscalation). */
async function escalateChainBreaks(ctx: CommandContext, damaged: readonly VerifyReport[]): Promise<void> {
  try {
    const publisher = new Publisher(await ctx.nats(), { registry: agentbusRegistry, source: 'agentbus-state-verify' });
    for (const report of damaged) {
      const raised = chainBreakEscalation(report);
      await publisher.publish('escalation.raised', raised.data, { id: raised.id });
    }
    ctx.out.note(`agentbus: raised ${damaged.length} chain-break escalation(s)`);
  } catch (error) {
    ctx.out.note(`agentbus: warning: could not raise the chain-break escalation: ${describeError(error)}`);
  }
}

export const stateList: Command = {
  path: ['state', 'list'],
  summary: 'list the versioned documents',
  usage: '',
  async run(ctx) {
    const store = await openStore(ctx);
    const documents = await store.listDocuments();
    ctx.out.data({ documents });
    for (const path of documents) ctx.out.line(path);
    if (documents.length === 0) ctx.out.line('no versioned documents');
    return 0;
  },
};

export const stateRepair: Command = {
  path: ['state', 'repair'],
  summary: 'rewrite a damaged or lagging head from the last version (refuses when a version record is damaged)',
  usage: '<collection>/<id>',
  positionals: { min: 1, max: 1 },
  async run(ctx, args) {
    const store = await openStore(ctx);
    const result = await store.repair(args.positionals[0]!);
    ctx.out.data(result);
    ctx.out.line(result.repaired ? `repaired ${result.path}: the head is version ${result.head} again` : `${result.path}: the head matches version ${result.head}; nothing to repair`);
    return 0;
  },
};

export const stateKeygen: Command = {
  path: ['state', 'keygen'],
  summary: "create an agent's ed25519 signing key pair: <dir>/<agent>.key.pem (secret) and <agent>.pub.pem",
  usage: '<agent> [--dir <dir>]',
  positionals: { min: 1, max: 1 },
  options: { dir: { type: 'string' } },
  async run(ctx, args) {
    const agent = args.positionals[0]!;
    if (!/^[A-Za-z0-9:@_-][A-Za-z0-9:@._-]*$/.test(agent)) throw new UsageError(`agent name ${JSON.stringify(agent)} cannot be a file name`, 'use letters, digits and . : @ _ -');
    const dir = stringOption(args, 'dir') ?? '.';
    const key = generateSigningKey();
    const privatePath = join(dir, `${agent}.key.pem`);
    const publicPath = join(dir, `${agent}.pub.pem`);
    const existing = [privatePath, publicPath].filter((file) => existsSync(file));
    if (existing.length > 0) throw new UsageError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}`, 'an existing key is never overwritten: move it away first, or choose another --dir');
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(privatePath, key.privateKeyPem, { mode: 0o600, flag: 'wx' });
      writeFileSync(publicPath, key.publicKeyPem, { flag: 'wx' });
    } catch (error) {
      throw new UsageError(`cannot write the key files in ${dir}: ${(error as Error).message}`, 'choose a --dir you can write to');
    }
    ctx.out.data({ agent, keyId: key.keyId, privateKey: privatePath, publicKey: publicPath });
    ctx.out.line(`key ${key.keyId} for ${agent}: sign with --sign-key ${privatePath}; verifiers trust ${publicPath} (--trust-keys ${dir})`);
    return 0;
  },
};

export const stateCommands: Command[] = [statePut, stateGet, stateHistory, stateDiff, stateRestore, stateVerify, stateList, stateRepair, stateKeygen];
