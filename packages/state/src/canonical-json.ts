/**
 * RFC 8785 JSON Canonicalization Scheme (JCS) for values that are already plain JSON: objects
 * with string keys, arrays, strings, finite numbers, booleans and null.
 *
 * - no whitespace;
 * - numbers in the ECMAScript shortest round-trip form (`1e+21`, `5e-324`, `-0` → `0`);
 * - strings with JSON.stringify escaping;
 * - object members sorted by the UTF-16 code units of their names, recursively; array order kept.
 *
 * Input must have been through `normalizeData` (or be known-plain JSON): this function throws on
 * anything JCS cannot express (undefined, NaN, ±Infinity, bigint, lone surrogates, non-plain
 * objects) instead of silently dropping or converting it, because a silent change would make two
 * different values hash the same.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      if (hasLoneSurrogate(value)) throw new TypeError('canonical JSON: a string holds a lone UTF-16 surrogate');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`canonical JSON: ${proto?.constructor?.name ?? 'object'} is not plain JSON`);
      const record = value as Record<string, unknown>;
      // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as JCS requires.
      const keys = Object.keys(record).sort();
      return `{${keys.map((key) => `${canonicalJson(key)}:${canonicalJson(record[key])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON: a ${typeof value} is not JSON`);
  }
}

const loneSurrogate = /[\uD800-\uDFFF]/u;

/** True when the string has a UTF-16 surrogate that is not half of a pair (not valid Unicode). */
export function hasLoneSurrogate(text: string): boolean {
  // With the u flag, a well-formed pair is one code point and does not match the class.
  return loneSurrogate.test(text);
}
