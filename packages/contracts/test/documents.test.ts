import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postmortemPath } from '@agentbus/contracts';
import { parseDocumentPath } from '@agentbus/state';

test('post-mortem paths: distinct incident ids never share a document, and every id gets a valid one', () => {
  const ids = [
    'a.b', 'a/b', 'a_b', 'a-b', 'a b', 'a.b.', '.a.b', '/a/b', '.', '/', '..', '_', '-', '_a', '-a', 'a', 'A',
    'x'.repeat(128), 'x'.repeat(129), `${'x'.repeat(128)}y`, `${'x'.repeat(200)}.`, `${'x'.repeat(200)}/`,
    'deploy.01980c3e-0000-7000-8000-000000000000', 'café', 'cafe', 'caf\u00e9', 'cafe\u0301', '😀', '\ud83d', '\ufffd', '\u0000', 'line\nbreak',
    'a_b_0123456789abcdef', 'a.b_0123456789abcdef',
  ];
  // An id that is the path another id maps to must not take that path as well.
  const derived = ids.map((id) => postmortemPath(id).slice('postmortems/'.length));
  const all = [...new Set([...ids, ...derived])];
  const paths = new Map<string, string>();
  for (const id of all) {
    const path = postmortemPath(id);
    assert.doesNotThrow(() => parseDocumentPath(path), `${JSON.stringify(id)} → ${path} is a valid document path`);
    assert.equal(postmortemPath(id), path, 'the same id always gives the same path');
    const other = paths.get(path);
    assert.equal(other, undefined, `${JSON.stringify(id)} and ${JSON.stringify(other)} share ${path}`);
    paths.set(path, id);
  }
});

test('post-mortem paths: an id that is already a plain document id is its own path (older post-mortems keep theirs); others read as the id plus a hash', () => {
  assert.equal(postmortemPath('01980c3e-1f2a-7b3c-8d4e-5f60718293a4'), 'postmortems/01980c3e-1f2a-7b3c-8d4e-5f60718293a4');
  assert.equal(postmortemPath('a_b'), 'postmortems/a_b');
  assert.match(postmortemPath('a.b'), /^postmortems\/a_b_[0-9a-f]{16}$/);
  assert.match(postmortemPath('.hidden'), /^postmortems\/hidden_[0-9a-f]{16}$/);
  assert.match(postmortemPath('/'), /^postmortems\/incident_[0-9a-f]{16}$/);
  const long = postmortemPath('y'.repeat(300));
  assert.ok(long.length <= 'postmortems/'.length + 128, long);
  assert.match(long, /^postmortems\/y+_[0-9a-f]{16}$/);
});
