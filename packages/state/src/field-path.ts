/** One step into a JSON value: an object member name or an array index. */
export type FieldStep = string | number;

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `spec.replicas`, `items[3].name`, `labels["app.kubernetes.io/name"]`: how people read a field. */
export function formatFieldPath(root: string, steps: readonly FieldStep[]): string {
  let text = root;
  for (const step of steps) {
    if (typeof step === 'number') text += `[${step}]`;
    else if (identifier.test(step)) text += text === '' ? step : `.${step}`;
    else text += `[${JSON.stringify(step)}]`;
  }
  return text === '' ? '(root)' : text;
}

/** RFC 6901 JSON Pointer of the same field, for scripts. */
export function jsonPointer(steps: readonly FieldStep[]): string {
  return steps.map((step) => `/${String(step).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
