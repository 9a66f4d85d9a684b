import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@agentbus/bus';
import { startNats, uniqueName, type NatsServer } from '@agentbus/testkit';
import { ensureStateBucket, generateSigningKey, openNatsKvBackend, stateBucketConfig, StateStore } from '@agentbus/state';

/*
 * A verifier written only from packages/state/README.md ("Stored format"), without this
 * package's code: its own RFC 8785 canonicalisation for the values agentbus stores, node:crypto
 * for the hashes and signatures, and the raw records read from the bucket with a plain NATS KV
 * client. The test proves the README is enough: the verifier agrees with the store on every hash
 * and on every verdict, tampered records included.
 */

// ----------------------------------------------------------------------------- the README's JCS

type Json = null | boolean | number | string | Json[] | { [name: string]: Json };

/** Members ordered by their names as sequences of UTF-16 code units. */
function byCodeUnits(a: string, b: string): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const difference = a.charCodeAt(i) - b.charCodeAt(i);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

const SHORT_ESCAPES: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

function jcsString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const short = SHORT_ESCAPES[code];
    if (short) out += short;
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += text[i];
  }
  return `${out}"`;
}

function jcs(value: Json): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value) && !Object.is(value, -0), `a stored number is finite and never -0: ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return jcsString(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  return `{${Object.keys(value)
    .sort(byCodeUnits)
    .map((name) => `${jcsString(name)}:${jcs(value[name]!)}`)
    .join(',')}}`;
}

const sha256 = (text: string) => `sha256:${createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex')}`;
const dataHashOf = (data: Json) => sha256(`agentbus-state/data/v1\n${jcs(data)}`);
function versionHashOf(path: string, data: Json, envelope: Record<string, Json>): string {
  const { hash: _hash, ...withoutHash } = envelope;
  return sha256(`agentbus-state/version/v1\n${jcs({ data, envelope: withoutHash, path })}`);
}

// ------------------------------------------------------------------------- the README's records

interface RawRecord {
  envelope: Record<string, Json>;
  data: Json;
  signature: { algorithm: string; keyId: string; value: string } | null;
}

interface VersionCheck {
  number: number;
  dataHash: string;
  hash: string;
  /** null: intact. */
  problem: string | null;
}

interface Verdict {
  ok: boolean;
  versions: VersionCheck[];
  problems: string[];
}

/** Reads document `<c>/<id>` from the bucket's keys (README, "Document paths and where records live"). */
async function readDocument(kv: KV, path: string): Promise<{ versions: Map<number, { bytes: string; record: RawRecord }>; head: { bytes: string; record: RawRecord } | undefined }> {
  const [collection, id] = path.split('/') as [string, string];
  const prefix = `${collection}.${id}.v.`;
  const versions = new Map<number, { bytes: string; record: RawRecord }>();
  for await (const key of await kv.keys(`${collection}.${id}.v.*`)) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT') continue;
    const bytes = entry.string();
    versions.set(Number(key.slice(prefix.length)), { bytes, record: JSON.parse(bytes) as RawRecord });
  }
  const headEntry = await kv.get(`${collection}.${id}.head`);
  const head = headEntry && headEntry.operation === 'PUT' ? { bytes: headEntry.string(), record: JSON.parse(headEntry.string()) as RawRecord } : undefined;
  return { versions, head };
}

/** The README's "What verify checks", on nats-kv, with the agents' public keys (PEM). */
async function verifyFromReadme(kv: KV, path: string, publicKeys: Record<string, string> = {}): Promise<Verdict> {
  const { versions, head } = await readDocument(kv, path);
  const last = Math.max(0, ...versions.keys());
  const checks: VersionCheck[] = [];
  const problems: string[] = [];
  const checkOwn = (record: RawRecord, filedAs: number): VersionCheck => {
    const dataHash = dataHashOf(record.data);
    const hash = versionHashOf(path, record.data, record.envelope);
    let problem: string | null = null;
    if (record.envelope.format !== 1) problem = 'unsupported-format';
    else if (record.envelope.number !== filedAs) problem = 'misplaced';
    else if (record.envelope.path !== path) problem = 'copied';
    else if (dataHash !== record.envelope.dataHash) problem = 'data-changed';
    else if (hash !== record.envelope.hash) problem = 'envelope-changed';
    else if (record.signature && publicKeys[record.envelope.agent as string]) {
      const key = createPublicKey(publicKeys[record.envelope.agent as string]!);
      const keyId = createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
      const signed = Buffer.from(`agentbus-state/signature/v1\n${record.envelope.hash as string}`, 'utf8');
      if (record.signature.algorithm !== 'ed25519' || record.signature.keyId !== keyId || !verifySignature(null, signed, key, Buffer.from(record.signature.value, 'base64'))) problem = 'bad-signature';
    } else if (!record.signature && publicKeys[record.envelope.agent as string]) problem = 'unsigned';
    return { number: filedAs, dataHash, hash, problem };
  };
  for (let number = 1; number <= last; number++) {
    const stored = versions.get(number);
    if (!stored) {
      problems.push(`${number}: missing`);
      continue;
    }
    const check = checkOwn(stored.record, number);
    checks.push(check);
    if (check.problem) {
      problems.push(`${number}: ${check.problem}`);
      continue;
    }
    // A link is checked against an intact version n − 1 only: a damaged one is reported itself.
    const previous = checks.find((c) => c.number === number - 1);
    if (number === 1 ? stored.record.envelope.previousHash !== null : previous && !previous.problem && stored.record.envelope.previousHash !== versions.get(number - 1)!.record.envelope.hash) {
      problems.push(`${number}: link-broken`);
    }
  }
  if (head) {
    const own = checkOwn(head.record, head.record.envelope.number as number);
    const copyOf = versions.get(head.record.envelope.number as number);
    if (own.problem || !copyOf || copyOf.record.envelope.hash !== head.record.envelope.hash || copyOf.record.signature?.value !== head.record.signature?.value) problems.push('head: head-mismatch');
  }
  return { ok: problems.length === 0, versions: checks, problems };
}

// ------------------------------------------------------------------------------------ the test

let server: NatsServer;
let nc: NatsConnection;
before(async () => {
  server = await startNats();
  nc = await connectNats({ servers: server.url, name: 'state-independent-verifier' });
});
after(async () => {
  await nc.close();
  await server.stop();
});

/** Every kind of value agentbus stores, with the corners of JCS: escapes, non-ASCII, UTF-16 member order, number forms, tags. */
const awkward = {
  text: 'quote " backslash \\ slash / tab \t line\nfeed \r \b \f \u0000 \u001f \u007f é 😀 \u2028',
  numbers: [0, -0, 1, -1.5, 0.1, 0.1 + 0.2, 1e21, 1e-7, 5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 123456789.125, 2 ** 60],
  big: 12345678901234567890n,
  when: new Date('2026-11-03T02:14:03.123Z'),
  exact: { $ts: '2026-11-03T04:14:03.123456789+02:00' },
  bytes: Buffer.from([0, 1, 2, 255]),
  flags: [true, false, null],
  nested: { deeper: { deepest: [{ a: 1 }, { b: [] }, {}] } },
  '\uffff': 'last by code point, not by code unit',
  '😀': 'a surrogate pair sorts before U+FFFF',
  é: 'é',
  B: 'capitals first',
  a: 'then small letters',
  '\u20ac': 'euro',
  'with space': 'and "quotes" in a name',
};

test('a verifier written from the README alone agrees with the store on every hash, and rejects every tampered record the store rejects', async () => {
  const bucket = uniqueName('state_readme_');
  await ensureStateBucket(nc, stateBucketConfig({ bucket }));
  const kv = await new Kvm(jetstream(nc)).open(bucket);
  const deployerKey = generateSigningKey();
  const publicKeys = { deployer: deployerKey.publicKeyPem };
  const store = new StateStore({ backend: await openNatsKvBackend({ nc, bucket }), agent: 'tester', signing: { privateKeys: { deployer: deployerKey.privateKeyPem }, publicKeys } });

  const paths = ['services/api', 'releases/r-2026_11', 'odd/X-_9'];
  await store.put(paths[0]!, awkward, { reason: 'every value type' });
  await store.put(paths[0]!, { ...awkward, numbers: [42], text: 'second' }, { reason: 'a second version, signed', agent: 'deployer', taskId: 'task-7', writeId: 'deploy-7' });
  await store.put(paths[0]!, { replaced: true }, { reason: 'third' });
  await store.restore(paths[0]!, 1, { reason: 'restore version 1' });
  await store.put(paths[1]!, { steps: [{ service: 'api', at: new Date(0) }] }, { reason: 'release plan', agent: 'deployer' });
  await store.put(paths[2]!, { only: 'one' }, { reason: 'one version' });

  for (const path of paths) {
    const verdict = await verifyFromReadme(kv, path, publicKeys);
    const report = await store.verify(path);
    assert.equal(verdict.ok, true, `${path}: ${verdict.problems.join('; ')}`);
    assert.equal(report.ok, true);
    const history = await store.history(path);
    assert.equal(verdict.versions.length, history.latest);
    for (const entry of history.entries) {
      const mine = verdict.versions.find((v) => v.number === entry.number)!;
      assert.equal(mine.hash, entry.envelope!.hash, `${path} v${entry.number}: the version hash`);
      assert.equal(mine.dataHash, entry.envelope!.dataHash, `${path} v${entry.number}: the data hash`);
      const version = await store.get(path, { version: entry.number });
      assert.equal(dataHashOf(JSON.parse(JSON.stringify(version.data)) as Json), entry.envelope!.dataHash, 'the data the store reads back hashes the same');
    }
  }

  // The README's byte layout, to the letter.
  const { versions, head } = await readDocument(kv, paths[0]!);
  for (const [number, { bytes, record }] of versions) {
    assert.equal(bytes, jcs(record as unknown as Json), `version ${number} is stored as its own canonical JSON`);
    assert.ok(bytes.startsWith('{"data":'));
  }
  assert.equal(head?.bytes, versions.get(4)?.bytes, 'the head is a byte copy of the latest version');
  assert.equal(versions.get(4)?.record.envelope.restoredFrom, 1);
  assert.equal(versions.get(4)?.record.envelope.dataHash, versions.get(1)?.record.envelope.dataHash, 'a restore copies the data');
  assert.deepEqual(versions.get(1)?.record.data, JSON.parse(versions.get(1)!.bytes).data);
  const data1 = versions.get(1)!.record.data as Record<string, Json>;
  assert.deepEqual(data1.big, { $int: '12345678901234567890' });
  assert.deepEqual(data1.when, { $ts: '2026-11-03T02:14:03.123000Z' });
  assert.deepEqual(data1.exact, { $ts: '2026-11-03T02:14:03.123456Z' });
  assert.deepEqual(data1.bytes, { $bytes: 'AAEC/w==' });
  assert.ok(versions.get(2)?.record.signature, 'version 2 is signed');
  const writeKey = createHash('sha256').update(`${paths[0]}\ndeploy-7`, 'utf8').digest('hex').slice(0, 40);
  assert.equal((await kv.get(`services.api.w.${writeKey}`))?.string(), JSON.stringify({ number: 2, hash: versions.get(2)!.record.envelope.hash }), 'the writeId index entry');
  assert.equal((await kv.get('_index.services.api'))?.string(), '{"path":"services/api"}');

  // Tampering, by writing raw records as someone with access to the bucket could.
  const rewrite = async (key: string, mutate: (record: RawRecord) => void) => {
    const record = JSON.parse((await kv.get(key))!.string()) as RawRecord;
    mutate(record);
    await kv.put(key, JSON.stringify(record));
  };
  const expectations: Array<[string, string, (record: RawRecord) => void, string]> = [
    ['services/api', 'services.api.v.2', (r) => void ((r.data as Record<string, Json>).text = 'changed'), 'data-changed'],
    ['releases/r-2026_11', 'releases.r-2026_11.v.1', (r) => void (r.envelope.reason = 'rewritten'), 'envelope-changed'],
    ['odd/X-_9', 'odd.X-_9.v.1', (r) => void ((r.data as Record<string, Json>)['😀'] = 1), 'data-changed'],
  ];
  for (const [path, key, mutate, reason] of expectations) {
    await rewrite(key, mutate);
    const verdict = await verifyFromReadme(kv, path, publicKeys);
    const report = await store.verify(path);
    assert.equal(verdict.ok, false, `${path}: the README's verifier rejects the tampered record`);
    assert.equal(report.ok, false);
    assert.deepEqual(verdict.problems, report.problems.map((p) => `${p.number}: ${p.reason}`), `${path}: both find the same problems`);
    assert.equal(report.firstBad!.reason, reason);
  }

  // A version re-sealed with correct hashes but without the agent's key: only the signature tells.
  await rewrite('services.api.v.2', (r) => {
    const data = { ...(r.data as Record<string, Json>), text: 'forged' };
    r.data = data;
    r.envelope.dataHash = dataHashOf(data);
    r.envelope.hash = versionHashOf('services/api', data, r.envelope);
  });
  const forged = await verifyFromReadme(kv, 'services/api', publicKeys);
  const report = await store.verify('services/api');
  assert.equal(forged.versions.find((v) => v.number === 2)?.hash, JSON.parse((await kv.get('services.api.v.2'))!.string()).envelope.hash, 'the forger computes the hash the README describes');
  assert.deepEqual(forged.problems, ['2: bad-signature']);
  assert.deepEqual(report.problems.map((p) => `${p.number}: ${p.reason}`), forged.problems, 'the store finds the same');

  // Re-linking the next version to the forgery is caught by the chain whatever the signatures.
  await rewrite('services.api.v.3', (r) => {
    r.envelope.previousHash = 'sha256:' + '0'.repeat(64);
    r.envelope.hash = versionHashOf('services/api', r.data, r.envelope);
  });
  const relinked = await verifyFromReadme(kv, 'services/api');
  assert.deepEqual(relinked.problems, ['3: link-broken', '4: link-broken'], 'version 3 links to nothing, and its new hash is not the one version 4 links to');
  const unsigned = new StateStore({ backend: await openNatsKvBackend({ nc, bucket }), agent: 'tester' });
  assert.deepEqual((await unsigned.verify('services/api')).problems.map((p) => `${p.number}: ${p.reason}`), relinked.problems, 'without public keys the store finds the same');
});
