/**
 * JSON as the CLI reads it from --data: the grammar of JSON.parse, but no number is changed
 * without a word. JSON.parse makes every number a double, so 9007199254740993 becomes
 * 9007199254740992 and 0.1000000000000000000001 becomes 0.1 before anyone can see it (Node 20's
 * reviver has no access to the source text). Here each number literal is checked: one whose
 * double has the same decimal value is a number; an integer literal outside ±(2^53−1) is a bigint
 * when the caller can keep one (`bigIntegers`: the state store keeps it exactly, as
 * `{"$int": "…"}`); anything else throws InexactNumberError naming the field.
 *
 * Nesting costs no stack (the parser keeps its own), so any depth JSON.parse reads is read here.
 */
export interface ExactJsonOptions {
  /** Integer literals outside ±(2^53−1) become bigints instead of an error. @default false */
  bigIntegers?: boolean;
}

/** A number literal that a double cannot hold exactly. */
export class InexactNumberError extends Error {
  constructor(
    /** Where it is, as people read it: `data.items[2].n` (the root is `data`). */
    readonly field: string,
    /** The number as written. */
    readonly literal: string,
    /** What JSON.parse would have made of it. */
    readonly nearest: string,
    /** An integer literal (which a bigint could keep). */
    readonly integer: boolean,
  ) {
    super(`${field} is ${literal}, which a double cannot hold exactly (it would become ${nearest})`);
    this.name = 'InexactNumberError';
  }
}

type Container = { array: unknown[] } | { object: Record<string, unknown>; key: string };

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `text` as JSON.parse does (the same SyntaxError for what is not JSON), with exact numbers. */
export function parseExactJson(text: string, options: ExactJsonOptions = {}): unknown {
  const plain = JSON.parse(text) as unknown; // the syntax check, with JSON.parse's own messages
  if (!/\d/.test(text)) return plain;
  let at = 0;
  const stack: Container[] = [];
  const skipWhitespace = () => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.exec(text);
    at = WHITESPACE.lastIndex;
  };
  const readString = (): string => {
    // The closing quote is the first one after `at` not escaped by an odd run of backslashes
    // (a scan, not a regular expression: those recurse on long strings).
    let end = text.indexOf('"', at + 1);
    for (;;) {
      let backslashes = 0;
      while (text[end - 1 - backslashes] === '\\') backslashes++;
      if (backslashes % 2 === 0) break;
      end = text.indexOf('"', end + 1);
    }
    const token = text.slice(at, end + 1);
    at = end + 1;
    return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
  };
  const readKey = (container: { object: Record<string, unknown>; key: string }) => {
    skipWhitespace();
    container.key = readString();
    skipWhitespace();
    at++; // ':'
  };
  for (;;) {
    // One value starts at `at`.
    skipWhitespace();
    let value: unknown;
    const char = text[at];
    if (char === '{' || char === '[') {
      at++;
      skipWhitespace();
      if (text[at] === (char === '{' ? '}' : ']')) {
        at++;
        value = char === '{' ? {} : [];
      } else {
        const container: Container = char === '{' ? { object: {}, key: '' } : { array: [] };
        stack.push(container);
        if ('object' in container) readKey(container);
        continue;
      }
    } else if (char === '"') {
      value = readString();
    } else if (char === 't' || char === 'f' || char === 'n') {
      value = char === 't' ? true : char === 'f' ? false : null;
      at += char === 'f' ? 5 : 4;
    } else {
      NUMBER.lastIndex = at;
      const literal = NUMBER.exec(text)![0];
      at = NUMBER.lastIndex;
      value = exactNumber(literal, options, () => fieldOf(stack));
    }
    // The value is complete: put it in its container; close every container that ends here.
    for (;;) {
      const top = stack.at(-1);
      if (!top) return value;
      if ('array' in top) top.array.push(value);
      else if (top.key === '__proto__') Object.defineProperty(top.object, top.key, { value, writable: true, enumerable: true, configurable: true });
      else top.object[top.key] = value;
      skipWhitespace();
      if (text[at] === ',') {
        at++;
        if ('object' in top) readKey(top);
        break;
      }
      at++; // '}' or ']'
      stack.pop();
      value = 'array' in top ? top.array : top.object;
    }
  }
}

function exactNumber(literal: string, options: ExactJsonOptions, field: () => string): number | bigint {
  const value = Number(literal);
  const integer = !/[.eE]/.test(literal);
  if (integer && Number.isSafeInteger(value)) return value;
  if (integer && options.bigIntegers) return BigInt(literal);
  const shortest = String(value);
  if (shortest === literal || decimalValue(literal) === decimalValue(shortest)) return value;
  throw new InexactNumberError(field(), literal, shortest, integer);
}

/**
 * The value of a decimal literal as `<sign><digits>e<exponent>` without leading or trailing
 * zeros, so that two literals of one value compare equal (`2.50` and `25e-1`); undefined for
 * what is not a finite decimal (`Infinity`).
 */
function decimalValue(literal: string): string | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return undefined;
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return '0';
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  return `${sign}${digits}e${BigInt(exponent) - BigInt(fraction.length) + BigInt(trailing)}`;
}

/** The field being read, from the containers open around it. */
function fieldOf(stack: readonly Container[]): string {
  let text = 'data';
  for (const container of stack) {
    if ('array' in container) text += `[${container.array.length}]`;
    else text += IDENTIFIER.test(container.key) ? `.${container.key}` : `[${JSON.stringify(container.key)}]`;
  }
  return text;
}
