import { createHash } from 'node:crypto';
import { StatePathError } from './errors.ts';

/**
 * A validated `<collection>/<id>`. The characters are the intersection of what a Firestore
 * document id and a NATS KV key token allow, so one path means the same document on both
 * backends and needs no escaping. Parts cannot start with '_' (names like `__x__` are reserved by
 * Firestore, and the backends keep their own records under '_' names).
 */
export interface DocumentPath {
  readonly collection: string;
  readonly id: string;
  /** `<collection>/<id>` */
  readonly text: string;
}

const part = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function parseDocumentPath(text: unknown): DocumentPath {
  if (typeof text !== 'string' || text === '') throw new StatePathError(String(text ?? ''), 'it is empty');
  const parts = text.split('/');
  if (parts.length !== 2) {
    throw new StatePathError(text, parts.length < 2 ? 'it has no /<id> part' : `it has ${parts.length} parts; nested collections are not supported`);
  }
  const [collection, id] = parts as [string, string];
  for (const [name, value] of [['collection', collection], ['id', id]] as const) {
    if (value === '') throw new StatePathError(text, `the ${name} is empty`);
    if (!part.test(value)) {
      const bad = [...value].find((char) => !/[A-Za-z0-9_-]/.test(char));
      const problem =
        value.length > 128 ? `the ${name} is longer than 128 characters`
        : bad !== undefined ? `the ${name} contains ${JSON.stringify(bad)}`
        : `the ${name} must start with a letter or digit`;
      throw new StatePathError(text, problem);
    }
  }
  return { collection, id, text };
}

/** Fixed-length key for a writeId (any text) in the backends' writeId indexes. */
export function writeKeyOf(path: DocumentPath, writeId: string): string {
  return createHash('sha256').update(`${path.text}\n${writeId}`, 'utf8').digest('hex').slice(0, 40);
}

/** Collects document paths found in a backend's keys or index, dropping what is not a valid path. */
export class DocumentPathSet {
  readonly #paths = new Map<string, DocumentPath>();

  add(text: unknown): void {
    try {
      const path = parseDocumentPath(text);
      this.#paths.set(path.text, path);
    } catch {
      // written by something else, or not a document of this library: not ours to list
    }
  }

  collections(): Set<string> {
    return new Set([...this.#paths.values()].map((path) => path.collection));
  }

  sorted(): DocumentPath[] {
    return [...this.#paths.values()].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  }
}
