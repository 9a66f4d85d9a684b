import { ellipsize } from '@agentbus/contracts';
import { canonicalJson } from './canonical-json.ts';
import { formatFieldPath, jsonPointer, type FieldStep } from './field-path.ts';
import { isPlainObject, ValueTags, type JsonValue } from './normalize.ts';

export const ChangeKinds = { added: 'added', removed: 'removed', changed: 'changed' } as const;
export type ChangeKind = (typeof ChangeKinds)[keyof typeof ChangeKinds];

/** One field that differs between two versions. */
export interface FieldChange {
  kind: ChangeKind;
  /** `spec.replicas`, `items[2].name`: for people. */
  field: string;
  /** RFC 6901 pointer (`/spec/replicas`): for scripts. */
  pointer: string;
  /** Absent for `added`. */
  before?: JsonValue;
  /** Absent for `removed`. */
  after?: JsonValue;
}

/**
 * Field-level differences from `before` to `after`: objects member by member (in canonical
 * order), arrays index by index, typed values ($ts, $bytes, $int) and scalars as whole values.
 */
export function diffData(before: JsonValue, after: JsonValue): FieldChange[] {
  const changes: FieldChange[] = [];
  walk(before, after, [], changes);
  return changes;
}

function isStructure(value: JsonValue): value is Record<string, JsonValue> {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return !(keys.length === 1 && Object.values(ValueTags).includes(keys[0] as (typeof ValueTags)[keyof typeof ValueTags]));
}

function walk(before: JsonValue, after: JsonValue, steps: FieldStep[], changes: FieldChange[]): void {
  if (isStructure(before) && isStructure(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      if (!(key in after)) changes.push(removed([...steps, key], before[key]!));
      else if (!(key in before)) changes.push(added([...steps, key], after[key]!));
      else walk(before[key]!, after[key]!, [...steps, key], changes);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const shared = Math.min(before.length, after.length);
    for (let index = 0; index < shared; index++) walk(before[index]!, after[index]!, [...steps, index], changes);
    for (let index = shared; index < before.length; index++) changes.push(removed([...steps, index], before[index]!));
    for (let index = shared; index < after.length; index++) changes.push(added([...steps, index], after[index]!));
    return;
  }
  if (canonicalJson(before) !== canonicalJson(after)) {
    changes.push({ kind: ChangeKinds.changed, field: formatFieldPath('', steps), pointer: jsonPointer(steps), before, after });
  }
}

function added(steps: FieldStep[], after: JsonValue): FieldChange {
  return { kind: ChangeKinds.added, field: formatFieldPath('', steps), pointer: jsonPointer(steps), after };
}

function removed(steps: FieldStep[], before: JsonValue): FieldChange {
  return { kind: ChangeKinds.removed, field: formatFieldPath('', steps), pointer: jsonPointer(steps), before };
}

const MAX_SHOWN = 120;

function show(value: JsonValue | undefined): string {
  const text = JSON.stringify(value);
  return ellipsize(text, MAX_SHOWN);
}

/** One line per change: `+ field = value`, `- field = value`, `~ field: old → new`. */
export function formatChanges(changes: readonly FieldChange[]): string[] {
  if (changes.length === 0) return ['  (no differences in the data)'];
  return changes.map((change) => {
    switch (change.kind) {
      case ChangeKinds.added:
        return `+ ${change.field} = ${show(change.after)}`;
      case ChangeKinds.removed:
        return `- ${change.field} = ${show(change.before)}`;
      default:
        return `~ ${change.field}: ${show(change.before)} → ${show(change.after)}`;
    }
  });
}
