/** How the CLI shows message bodies, times and tables. */
import { safeLine, safeText } from '@agentbus/contracts';

/**
 * A body nested deeper than this is shown as its bytes: JSON.stringify recurses, and a message a
 * few thousand levels deep (which a foreign client can store) would overflow the stack.
 */
export const MAX_SHOWN_DEPTH = 256;

/**
 * A stored message's body as the CLI can show it: the JSON value, or the raw bytes with the
 * reason they are not shown as JSON (and the text, when the bytes are UTF-8). Never throws: no
 * stored message, however malformed, stops a read command.
 */
export type BodyView = { json: true; value: unknown } | { json: false; bytes: Uint8Array; text: string | undefined; note: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function viewBody(data: Uint8Array): BodyView {
  const raw = (note: string, text?: string): BodyView => ({ json: false, bytes: data, text, note });
  if (data.length === 0) return raw('empty (0 bytes)', '');
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return raw(`not UTF-8 (${data.length} bytes)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return raw(`not JSON (${safeLine((error as Error).message, 200)})`, text);
  }
  if (deeperThan(value, MAX_SHOWN_DEPTH)) return raw(`nested deeper than ${MAX_SHOWN_DEPTH} levels`, text);
  return { json: true, value };
}

/** The body's fields of a --json record: `data` (the JSON value), or `dataBase64` and `dataNote` (why not JSON). */
export function bodyFields(view: BodyView): { data: unknown } | { dataBase64: string; dataNote: string } {
  if (view.json) return { data: view.value };
  return { dataBase64: Buffer.from(view.bytes.buffer, view.bytes.byteOffset, view.bytes.byteLength).toString('base64'), dataNote: view.note };
}

/** Whether objects and arrays nest deeper than `limit` levels (a walk without recursion). */
function deeperThan(value: unknown, limit: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    const depth = next.depth + 1;
    if (depth > limit) return true;
    for (const child of Object.values(next.value)) if (typeof child === 'object' && child !== null) pending.push({ value: child, depth });
  }
  return false;
}

/** The body in one bounded line for a listing: the JSON (an envelope as `<id>  <data>`), else the text and why it is not JSON. */
export function bodyLine(view: BodyView, max: number): string {
  if (view.json) return safeLine(envelopeSummary(view.value), max);
  if (view.text === undefined) return `[${view.note}: --json shows the bytes as base64]`;
  const note = `  [${view.note}]`;
  return `${safeLine(view.text, Math.max(16, max - note.length))}${note}`;
}

function envelopeSummary(body: unknown): string {
  if (body && typeof body === 'object' && 'id' in body && 'data' in body) {
    const envelope = body as { id: unknown; data: unknown };
    return `${typeof envelope.id === 'string' ? envelope.id : JSON.stringify(envelope.id)}  ${JSON.stringify(envelope.data)}`;
  }
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/** The most of a body `dlq show` prints for a person (--json prints all of it). */
const SHOWN_BODY_MAX = 64 * 1024;

/** The body for a person: a heading (`body:`, or why it is not JSON and how it is shown) and the pretty JSON, text or base64, each line indented by `indent`. */
export function bodyBlock(view: BodyView, indent: string): { heading: string; text: string } {
  const block = (text: string) => safeText(text, { max: SHOWN_BODY_MAX }).replace(/^/gm, indent);
  if (view.json) return { heading: 'body:', text: block(JSON.stringify(view.value, null, 2)) };
  if (view.text === undefined) {
    const base64 = Buffer.from(view.bytes.buffer, view.bytes.byteOffset, view.bytes.byteLength).toString('base64');
    return { heading: `body: ${view.note}, as base64:`, text: block(base64.replace(/.{76}(?=.)/g, '$&\n')) };
  }
  return { heading: `body: ${view.note}, as text:`, text: block(view.text) };
}

export function shortTime(date: Date | string | undefined): string {
  if (!date) return '-';
  const iso = typeof date === 'string' ? date : date.toISOString();
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Left-aligned columns, widths from the content. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}
