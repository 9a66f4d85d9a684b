import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyFields, MAX_SHOWN_DEPTH, viewBody } from '../src/render.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

test('a JSON body is its value; anything else is its bytes with the reason it is not shown as JSON', () => {
  assert.deepEqual(viewBody(bytes('{"a":[1,"é"]}')), { json: true, value: { a: [1, 'é'] } });
  assert.deepEqual(bodyFields(viewBody(bytes('"text"'))), { data: 'text' });

  const latin1 = new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x7d]);
  const notUtf8 = viewBody(latin1);
  assert.equal(notUtf8.json, false);
  assert.deepEqual(bodyFields(notUtf8), { dataBase64: Buffer.from(latin1).toString('base64'), dataNote: 'not UTF-8 (5 bytes)' });

  const text = viewBody(bytes('hello \x1b[31mworld'));
  assert.equal(text.json, false);
  assert.equal(text.json === false && text.text, 'hello \x1b[31mworld');
  const fields = bodyFields(text) as Record<string, unknown>;
  assert.match(String(fields.dataNote), /^not JSON \(.+\)$/);
  assert.equal(fields.dataBase64, Buffer.from('hello \x1b[31mworld').toString('base64'));

  assert.deepEqual(bodyFields(viewBody(new Uint8Array())), { dataBase64: '', dataNote: 'empty (0 bytes)' });
});

test(`a body nested deeper than ${MAX_SHOWN_DEPTH} levels is shown as bytes (printing it as JSON would overflow the stack)`, () => {
  const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  const view = viewBody(bytes(deep));
  assert.equal(view.json, false);
  assert.deepEqual(bodyFields(view), { dataBase64: Buffer.from(deep).toString('base64'), dataNote: `nested deeper than ${MAX_SHOWN_DEPTH} levels` });
  const atLimit = `${'['.repeat(MAX_SHOWN_DEPTH)}${']'.repeat(MAX_SHOWN_DEPTH)}`;
  assert.equal(viewBody(bytes(atLimit)).json, true);
  assert.equal(viewBody(bytes(`{"a":${atLimit}}`)).json, false);
  JSON.stringify(bodyFields(viewBody(bytes(atLimit))), null, 2);
});
