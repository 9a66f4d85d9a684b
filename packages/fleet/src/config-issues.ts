import type { z } from 'zod';

/** One problem of a configuration file, named by its field path. */
export interface ConfigProblem {
  /** `services[1].deploy.command`; `(root)` for the file itself. */
  path: string;
  message: string;
}

/** `['services', 1, 'deploy']` → `services[1].deploy`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) text += typeof key === 'number' ? `[${key}]` : `${text ? '.' : ''}${String(key)}`;
  return text || '(root)';
}

/**
 * Every zod issue as a ConfigProblem. An unknown field becomes one problem per field, at its
 * own path, with the closest known field name when one is near (`stabilisationMs` → did you
 * mean `stabilizationMs`?), found by walking `schema` along the path.
 */
export function configProblems(error: z.ZodError, schema: z.ZodType): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = objectKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const near = known.find((candidate) => editDistance(candidate.toLowerCase(), key.toLowerCase()) <= 2);
        const suggestion = near ? `did you mean "${near}"?` : known.length ? `known fields: ${known.join(', ')}` : '';
        problems.push({ path: formatFieldPath([...issue.path, key]), message: `unknown field${suggestion ? `; ${suggestion}` : ''}` });
      }
    } else {
      problems.push({ path: formatFieldPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

/** The field names of the object schema found at `path` (array indexes step into elements), or [] when none. */
function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  for (let i = 0; i <= path.length; i++) {
    current = unwrap(current);
    if (i === path.length) break;
    const def = definitionOf(current);
    const key = path[i];
    if (def?.type === 'object' && typeof key === 'string') current = (def.shape as Record<string, unknown>)[key];
    else if (def?.type === 'array' && typeof key === 'number') current = def.element;
    else if (def?.type === 'record') current = def.valueType;
    else return [];
  }
  const def = definitionOf(current);
  return def?.type === 'object' ? Object.keys(def.shape as Record<string, unknown>) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = definitionOf(current);
    if (!def) return current;
    if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else return current;
  }
  return current;
}

function definitionOf(schema: unknown): { type: string; [key: string]: unknown } | undefined {
  const def = (schema as { def?: { type?: unknown } } | undefined)?.def;
  return def && typeof def.type === 'string' ? (def as { type: string }) : undefined;
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
