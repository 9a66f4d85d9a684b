import { hasLoneSurrogate } from './canonical-json.ts';
import { StateDataError } from './errors.ts';
import { formatFieldPath, type FieldStep } from './field-path.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/**
 * Typed values that plain JSON has no form for are kept as one-member objects (tags), so the same
 * value has the same canonical JSON on every backend and after every round trip:
 *
 * | tag        | value                                   | Firestore stores it as |
 * |------------|-----------------------------------------|------------------------|
 * | `$ts`      | UTC time, always 6 fraction digits (µs) | a Timestamp            |
 * | `$bytes`   | standard base64                         | bytes                  |
 * | `$int`     | an integer outside ±(2^53−1), decimal   | the tag (a map)        |
 *
 * Numbers are numbers: an integer and the same value as a double are one value (Firestore turns
 * `2.0` into the integer 2 anyway). `-0` becomes `0`.
 */
export const ValueTags = { timestamp: '$ts', bytes: '$bytes', bigInteger: '$int' } as const;

/** Firestore allows 20 levels of maps and arrays; `data` itself is one of them in a stored record. */
export const MAX_DATA_DEPTH = 16;
/** Firestore's limit for a field name. */
const MAX_KEY_BYTES = 1500;

const timestampPattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const integerPattern = /^-?(?:0|[1-9]\d*)$/;
const MIN_MICROS = -62135596800000000n; // 0001-01-01T00:00:00Z
const MAX_MICROS = 253402300799999999n; // 9999-12-31T23:59:59.999999Z

const hints = {
  json: 'versioned data is JSON: objects, arrays, strings, finite numbers, true/false and null (plus {"$ts": "<ISO time>"} and {"$bytes": "<base64>"})',
  undefinedValue: 'JSON has no undefined: leave the field out or set it to null',
  sentinel:
    'a FieldValue sentinel is resolved by the server after the commit, so it cannot be hashed into the version; use a client value instead (a Date or {"$ts": "2026-01-01T00:00:00.000000Z"} for time)',
  reservedKey: 'member names starting with $ are reserved for typed values ($ts, $bytes, $int); rename the member',
} as const;

/**
 * Checks and converts a document body into plain JSON (see ValueTags). Throws StateDataError naming
 * the first bad field (`data.items[2].at`), so nothing half-valid is ever written or hashed.
 * Accepts what a caller or a backend may hand over: plain JSON, Date, bigint, Uint8Array/Buffer
 * and Firestore Timestamps; refuses undefined, NaN/±Infinity, functions, symbols, Firestore
 * sentinels, references and any other class instance.
 */
export function normalizeData(value: unknown, root = 'data'): JsonObject {
  if (!isPlainObject(value)) {
    throw new StateDataError(root, `must be a JSON object, got ${describeType(value)}`, 'wrap the value in an object, e.g. {"value": 42}');
  }
  return normalizeValue(value, { root, steps: [] }, 0, false) as JsonObject;
}

/** The same conversion for any JSON value (used for envelopes and stored records). */
export function normalizeJson(value: unknown, root: string): JsonValue {
  return normalizeValue(value, { root, steps: [] }, 0, false);
}

/** Where the walk is: the field path is only formatted when something fails. */
interface Walk {
  root: string;
  steps: FieldStep[];
}

function fail(walk: Walk, problem: string, hint: string = hints.json): never {
  throw new StateDataError(formatFieldPath(walk.root, walk.steps), problem, hint);
}

function normalizeValue(value: unknown, walk: Walk, depth: number, inArray: boolean): JsonValue {
  switch (typeof value) {
    case 'string':
      if (hasLoneSurrogate(value)) fail(walk, 'the string holds a lone UTF-16 surrogate (not valid Unicode)', 'fix the text encoding of this value');
      return value;
    case 'number':
      if (!Number.isFinite(value)) fail(walk, `${value} is not a JSON number`, 'store a finite number, null, or a string such as "NaN"');
      return Object.is(value, -0) ? 0 : value;
    case 'boolean':
      return value;
    case 'bigint':
      return normalizeBigInt(value);
    case 'undefined':
      return fail(walk, 'is undefined', hints.undefinedValue);
    case 'function':
    case 'symbol':
      return fail(walk, `a ${typeof value} is not data`);
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  if (depth >= MAX_DATA_DEPTH) fail(walk, `is nested deeper than ${MAX_DATA_DEPTH} levels`, 'flatten the document (Firestore allows 20 levels including the envelope)');
  if (Array.isArray(object)) {
    if (inArray) fail(walk, 'is an array directly inside an array, which Firestore cannot store', 'wrap the inner array in an object, e.g. [{"items": [1, 2]}]');
    const items: JsonValue[] = new Array(object.length);
    for (let index = 0; index < object.length; index++) {
      walk.steps.push(index);
      items[index] = normalizeValue(object[index], walk, depth + 1, true);
      walk.steps.pop();
    }
    return items;
  }
  if (isPlainObject(object)) return normalizeObject(object, walk, depth);
  return normalizeInstance(object, walk);
}

function normalizeObject(record: Record<string, unknown>, walk: Walk, depth: number): JsonValue {
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0]!.startsWith('$')) {
    const tagged = normalizeTag(keys[0]!, record[keys[0]!], walk);
    if (tagged !== undefined) return tagged;
  }
  const result: JsonObject = {};
  for (const key of keys) {
    walk.steps.push(key);
    if (key === '') fail(walk, 'has an empty member name', 'Firestore does not allow empty field names; give the member a name');
    if (key.charCodeAt(0) === 0x24 /* $ */) fail(walk, `member name ${JSON.stringify(key)} starts with $`, hints.reservedKey);
    if (key.startsWith('__') && key.endsWith('__') && key.length >= 4) fail(walk, `member name ${JSON.stringify(key)} has the form __name__, which Firestore reserves`, 'rename the member');
    if (hasLoneSurrogate(key)) fail(walk, 'member name holds a lone UTF-16 surrogate', 'fix the text encoding of this name');
    // A UTF-16 code unit takes at most 3 bytes in UTF-8, so short names need no count.
    if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) fail(walk, `member name is longer than ${MAX_KEY_BYTES} bytes`, 'shorten the member name');
    result[key] = normalizeValue(record[key], walk, depth + 1, false);
    walk.steps.pop();
  }
  return result;
}

/** Dates, bytes and Firestore values become tags; every other class instance is refused. */
function normalizeInstance(object: object, walk: Walk): JsonValue {
  const failHere = (problem: string, hint?: string): never => fail(walk, problem, hint);
  if (object instanceof Date) {
    const ms = object.getTime();
    if (Number.isNaN(ms)) fail(walk, 'is an invalid Date');
    return { [ValueTags.timestamp]: formatMicros(checkMicrosRange(BigInt(ms) * 1000n, failHere)) };
  }
  if (object instanceof Uint8Array) return { [ValueTags.bytes]: Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64') };
  if (isFirestoreSentinel(object)) return fail(walk, `is ${(object as { methodName: string }).methodName}(), a server-side sentinel`, hints.sentinel);
  const className = object.constructor?.name;
  if (className === 'Timestamp' && isTimestampLike(object)) {
    const micros = BigInt(object.seconds) * 1_000_000n + BigInt(Math.floor(object.nanoseconds / 1000));
    return { [ValueTags.timestamp]: formatMicros(checkMicrosRange(micros, failHere)) };
  }
  const hint =
    className === 'DocumentReference' ? 'store the document path as a string instead of a reference'
    : className === 'GeoPoint' ? 'store the point as {"lat": …, "lng": …}'
    : className === 'Map' ? 'use a plain object instead of a Map'
    : className === 'Set' ? 'use an array instead of a Set'
    : hints.json;
  return fail(walk, `a ${className ?? 'non-plain object'} is not JSON data`, hint);
}

function normalizeTag(tag: string, value: unknown, walk: Walk): JsonValue | undefined {
  const failHere = (problem: string, hint?: string): never => fail(walk, problem, hint);
  switch (tag) {
    case ValueTags.timestamp: {
      if (typeof value !== 'string') return failHere(`{"$ts": …} needs an ISO-8601 string, got ${describeType(value)}`, 'write times as {"$ts": "2026-01-01T12:00:00.000000Z"}');
      return { [ValueTags.timestamp]: formatMicros(checkMicrosRange(parseTimestampMicros(value, failHere), failHere)) };
    }
    case ValueTags.bytes: {
      if (typeof value !== 'string' || !base64Pattern.test(value)) return failHere('{"$bytes": …} needs a standard base64 string', 'encode the bytes with base64 (A-Z a-z 0-9 + /, = padding)');
      return { [ValueTags.bytes]: value };
    }
    case ValueTags.bigInteger: {
      if (typeof value !== 'string' || !integerPattern.test(value)) return failHere('{"$int": …} needs a decimal integer string', 'write big integers as {"$int": "12345678901234567890"}');
      return normalizeBigInt(BigInt(value));
    }
    default:
      return undefined;
  }
}

function normalizeBigInt(value: bigint): JsonValue {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : { [ValueTags.bigInteger]: value.toString() };
}

function parseTimestampMicros(text: string, fail: (problem: string, hint?: string) => never): bigint {
  const match = timestampPattern.exec(text);
  if (!match) return fail(`${JSON.stringify(text)} is not an ISO-8601 time`, 'write times like "2026-01-01T12:00:00.123456Z" (an offset such as +02:00 is allowed)');
  const [, year, month, day, hour, minute, second, fraction = '', zone] = match;
  const wholeMs = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${zone === 'Z' ? 'Z' : zone}`);
  if (Number.isNaN(wholeMs) || new Date(Date.parse(`${year}-${month}-${day}T00:00:00Z`)).getUTCDate() !== Number(day)) {
    return fail(`${JSON.stringify(text)} is not a valid calendar time`);
  }
  // Truncated (not rounded) to microseconds, the precision Firestore keeps.
  return BigInt(wholeMs) * 1000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
}

function checkMicrosRange(micros: bigint, fail: (problem: string, hint?: string) => never): bigint {
  if (micros < MIN_MICROS || micros > MAX_MICROS) fail('is a time outside 0001-01-01 … 9999-12-31', 'store a time within the years 1 to 9999');
  return micros;
}

/** `2026-11-03T02:14:03.123456Z`: UTC, always six fraction digits. */
export function formatMicros(micros: bigint): string {
  const ms = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
  const subMs = micros - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, -1)}${subMs.toString().padStart(3, '0')}Z`;
}

/** Microseconds since the epoch of a `$ts` value as normalizeData writes it. */
export function timestampTagMicros(text: string): bigint {
  return parseTimestampMicros(text, (problem) => {
    throw new TypeError(problem);
  });
}

/** The current time in microseconds since the epoch (the client time an envelope records). */
export function nowMicros(): bigint {
  return BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isTimestampLike(value: object): value is { seconds: number; nanoseconds: number } {
  const candidate = value as { seconds?: unknown; nanoseconds?: unknown; toMillis?: unknown };
  return typeof candidate.seconds === 'number' && typeof candidate.nanoseconds === 'number' && typeof candidate.toMillis === 'function';
}

function isFirestoreSentinel(value: object): boolean {
  const methodName = (value as { methodName?: unknown }).methodName;
  return typeof methodName === 'string' && methodName.startsWith('FieldValue.');
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'object'}`;
  return `a ${typeof value}`;
}
