/**
 * Text from outside agentbus — a deploy command's output, git's and a remote's messages, HTTP
 * bodies, other libraries' error messages, free text in a message someone else published — is
 * data, never a failure. It is made safe once, where it enters, before it reaches an event, a
 * state document, a log line, a git argument, a terminal or a chat message:
 *
 * - terminal escape sequences (ANSI colours, cursor moves, OSC titles and links) are removed;
 * - CR LF and lone CR become LF (multi-line text) or a space (one-line text); tabs are kept in
 *   multi-line text;
 * - every other control character (C0, DEL, C1), the bidirectional overrides and isolates, and
 *   U+2028/U+2029 are escaped as visible text (`\x00`, `\u202e`), so nothing is lost and nothing
 *   is hidden;
 * - a lone UTF-16 surrogate becomes U+FFFD;
 * - the result is at most `max` UTF-16 code units (the unit JavaScript and most JSON limits
 *   count, never fewer than code points), cut at a code point boundary with a marker saying how
 *   much was cut.
 *
 * safeText(safeText(x)) === safeText(x): text made safe twice is made safe once.
 */
export interface SafeTextOptions {
  /** Keep line breaks and tabs (command output, messages). Default true. */
  multiline?: boolean;
  /** The longest result, in UTF-16 code units, marker included. Default DEFAULT_SAFE_TEXT_MAX. */
  max?: number;
  /** Which end to keep when cutting: the start (a message) or the end (command output, where errors are). Default 'start'. */
  keep?: 'start' | 'end';
}

/** The default bound of safeText: enough for an error message with context, small enough for any event. */
export const DEFAULT_SAFE_TEXT_MAX = 8_000;

// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(char: string): string {
  const code = char.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Outside text made safe to record and show (see the module comment). */
export function safeText(text: unknown, options: SafeTextOptions = {}): string {
  const multiline = options.multiline ?? true;
  const max = Math.max(16, options.max ?? DEFAULT_SAFE_TEXT_MAX);
  let value = typeof text === 'string' ? text : text === undefined || text === null ? '' : String(text);
  value = value.replace(ESCAPE_SEQUENCES, '').replace(/\r\n?/g, '\n');
  if (!multiline) value = value.replace(/[\n\t]/g, ' ');
  value = value.replace(UNSAFE, escapeChar);
  return cutToLength(value, max, options.keep ?? 'start');
}

/** One line of outside text: safeText with line breaks and tabs as spaces. */
export function safeLine(text: unknown, max = 1_000): string {
  return safeText(text, { multiline: false, max });
}

/**
 * `text` cut to at most `max` UTF-16 code units at a code point boundary (never inside a
 * surrogate pair), with a marker naming how many characters were cut.
 */
export function cutToLength(text: string, max: number, keep: 'start' | 'end' = 'start'): string {
  if (text.length <= max) return text;
  for (let room = max - 24; room > 0; room--) {
    const kept = keep === 'start' ? sliceWhole(text, 0, room) : sliceWhole(text, text.length - room, text.length);
    const marker = keep === 'start' ? ` … [${text.length - kept.length} characters cut]` : `[${text.length - kept.length} characters cut] … `;
    if (kept.length + marker.length <= max) return keep === 'start' ? kept + marker : marker + kept;
  }
  return sliceWhole(text, 0, max);
}

/**
 * `text` at most `max` UTF-16 code units, cut at a code point boundary and ending in `ellipsis`
 * when cut: for a table column or a short preview, where cutToLength's marker would not fit.
 */
export function ellipsize(text: string, max: number, ellipsis = '…'): string {
  if (text.length <= max) return text;
  return `${sliceWhole(text, 0, Math.max(0, max - ellipsis.length))}${ellipsis}`;
}

/** text.slice(from, to) moved inwards so that it never starts or ends inside a surrogate pair. */
function sliceWhole(text: string, from: number, to: number): string {
  let start = from;
  let end = to;
  if (start > 0 && isLowSurrogate(text.charCodeAt(start)) && isHighSurrogate(text.charCodeAt(start - 1))) start++;
  if (end < text.length && isLowSurrogate(text.charCodeAt(end)) && isHighSurrogate(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;
