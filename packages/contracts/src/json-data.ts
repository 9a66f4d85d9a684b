import { safeLine } from './safe-text.ts';

/**
 * What message data may be: JSON, and no deeper than a message needs. Checked before anything
 * else looks at the data (see validateData), by a loop with its own stack, never by recursion, so
 * that data nested 5,000 levels deep is refused with a clear error instead of overflowing the
 * call stack of JSON.stringify, a schema or a handler.
 */

/**
 * The deepest nesting of objects and arrays in a message's data, `data` itself being level 1.
 * agentbus's own messages use fewer than 10; versioned state documents stop at 16.
 */
export const MAX_MESSAGE_DEPTH = 32;

/** Values (objects, arrays, strings, numbers…) in one message's data: more cannot fit in a 1 MiB message anyway. */
export const MAX_MESSAGE_VALUES = 1_000_000;

export interface JsonDataProblem {
  /** Where, as a field path: `data.items[2].at`. */
  path: string;
  problem: string;
  hint: string;
}

const JSON_HINT = 'message data is JSON: objects, arrays, strings, finite numbers, true/false and null';

interface Frame {
  value: unknown;
  /** Nesting level of `value` when it is an object or array (data itself: 1). */
  level: number;
  parent: Frame | undefined;
  key: string | number | undefined;
}

/**
 * The first reason `data` cannot travel as a message's data, or undefined when it can: nested
 * deeper than MAX_MESSAGE_DEPTH, a cycle, more than MAX_MESSAGE_VALUES values, or a value JSON
 * has no form for (bigint, function, symbol, NaN/±Infinity, undefined in an array, a Map, a Date
 * or any other class instance). An undefined object member is allowed: JSON leaves it out.
 */
export function jsonDataProblem(data: unknown, root = 'data'): JsonDataProblem | undefined {
  const stack: Frame[] = [{ value: data, level: 1, parent: undefined, key: undefined }];
  let values = 0;
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value } = frame;
    if (++values > MAX_MESSAGE_VALUES) {
      return { path: pathOf(frame, root), problem: `holds more than ${MAX_MESSAGE_VALUES} values`, hint: 'keep large content in shared state (agentbus state put) and send its path in the message' };
    }
    switch (typeof value) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (Number.isFinite(value)) continue;
        return { path: pathOf(frame, root), problem: `${value} is not a JSON number`, hint: 'send a finite number, null, or a string such as "NaN"' };
      case 'undefined':
        if (frame.parent !== undefined && !Array.isArray(frame.parent.value)) continue;
        return { path: pathOf(frame, root), problem: frame.parent ? 'is undefined in an array (JSON would turn it into null)' : 'is undefined', hint: 'JSON has no undefined: leave the member out or use null' };
      case 'bigint':
        return { path: pathOf(frame, root), problem: 'is a bigint, which JSON cannot hold', hint: 'send it as a string of digits, or as a number when it is within ±(2^53−1)' };
      case 'function':
      case 'symbol':
        return { path: pathOf(frame, root), problem: `is a ${typeof value}, which is not data`, hint: JSON_HINT };
      default:
        break;
    }
    if (value === null) continue;
    if (frame.level > MAX_MESSAGE_DEPTH) {
      return {
        path: pathOf(frame, root),
        problem: `is nested deeper than ${MAX_MESSAGE_DEPTH} levels (the limit of message data)`,
        hint: `flatten the data to at most ${MAX_MESSAGE_DEPTH} levels of objects and arrays; keep large structures in shared state (agentbus state put) and send its path`,
      };
    }
    for (let ancestor = frame.parent; ancestor; ancestor = ancestor.parent) {
      if (ancestor.value === value) return { path: pathOf(frame, root), problem: 'refers to an object that contains it (a cycle), which JSON cannot hold', hint: JSON_HINT };
    }
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], level: frame.level + 1, parent: frame, key: index });
      continue;
    }
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (value as object).constructor?.name || 'object';
      return { path: pathOf(frame, root), problem: `is a ${name}, not a plain object (JSON would not keep it as it is)`, hint: `${JSON_HINT}; send a Date as an ISO time string` };
    }
    const keys = Object.keys(value as object);
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!;
      stack.push({ value: (value as Record<string, unknown>)[key], level: frame.level + 1, parent: frame, key });
    }
  }
  return undefined;
}

/** `data.items[2].at`; a long path keeps its start and end: `data.a.a.a … (30 more) … .a.a`. */
function pathOf(frame: Frame, root: string): string {
  const steps: Array<string | number> = [];
  for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) steps.push(at.key);
  steps.reverse();
  const format = (step: string | number) => (typeof step === 'number' ? `[${step}]` : /^[A-Za-z_$][\w$]*$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`);
  const shown = steps.length > 8 ? `${steps.slice(0, 4).map(format).join('')} … (${steps.length - 6} more) … ${steps.slice(-2).map(format).join('')}` : steps.map(format).join('');
  return safeLine(`${root}${shown}`, 300);
}
