import { isDeepStrictEqual } from 'node:util';

/** The first expectation a JSON body does not meet, or undefined when it meets them all. */
export interface FieldMismatch {
  path: string;
  expected: unknown;
  /** undefined when the field is missing. */
  actual: unknown;
}

/** Follows a dot path (`checks.db.ok`, `items.0.id`) into parsed JSON. */
export function valueAtPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export function firstFieldMismatch(body: unknown, expectations: Record<string, unknown>): FieldMismatch | undefined {
  for (const [path, expected] of Object.entries(expectations)) {
    const actual = valueAtPath(body, path);
    if (!isDeepStrictEqual(actual, expected)) return { path, expected, actual };
  }
  return undefined;
}
