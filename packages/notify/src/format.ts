import { cutToLength, safeText } from '@agentbus/contracts';

/**
 * Small, deterministic wording shared by every outgoing message, and the one way its text is fitted
 * to a receiver's limits. Text in a payload comes from events, and events carry outside text (a
 * deploy command's output, a summary someone published by hand), so every text is made safe with
 * safeText (no control characters, terminal escapes or halves of surrogate pairs) and then cut at a
 * code point boundary with cutToLength, before any escaping, so that the escaped result fits and
 * no entity is ever cut in half. Lengths are UTF-16 code units, never fewer than the characters
 * (code points) the receivers count.
 */

export interface FitOptions {
  /** Keep line breaks and tabs (a message body); false for a title or a name. Default true. */
  multiline?: boolean;
  /** Applied after the cut (Slack's entities, a Markdown table's `\|`); the escaped result fits `max`. */
  escape?: (text: string) => string;
  /** The text to use when nothing is left of the input (a receiver that refuses an empty string). Default ''. */
  fallback?: string;
}

const noEscape = (text: string) => text;
const made = (text: unknown, options: FitOptions) => safeText(text, { multiline: options.multiline ?? true, max: Number.MAX_SAFE_INTEGER }) || (options.fallback ?? '');

/** `safe` (already made safe) cut before escaping so that its escaped form is at most `max` long. */
function fitSafe(safe: string, max: number, escape: (text: string) => string): string {
  let room = Math.max(0, max);
  for (;;) {
    const escaped = escape(cutToLength(safe, room));
    if (escaped.length <= max || room === 0) return escaped.length <= max ? escaped : '';
    room = Math.max(0, Math.min(room - 1, Math.floor((room * max) / escaped.length)));
  }
}

/** Outside text made safe and cut to at most `max` UTF-16 code units once escaped (see the module comment). */
export function fitText(text: unknown, max: number, options: FitOptions = {}): string {
  return fitSafe(made(text, options), max, options.escape ?? noEscape);
}

/** One text of several that share a total (fitTogether). */
export interface TextPiece extends FitOptions {
  text: unknown;
  /** This piece's own limit, its prefix and suffix included. */
  max: number;
  /** Written before and after the fitted text as they are (already safe and escaped); counted in `max` and in the total. */
  prefix?: string;
  suffix?: string;
}

/**
 * Texts fitted each to its own limit and all together to `total` (Discord's 6,000 characters per
 * message, Slack's text per message): when they are too long together, the longest are cut to
 * one common length, the largest that fits, and the short ones are kept whole. Prefixes and
 * suffixes are never cut: the caller keeps them short.
 */
export function fitTogether(pieces: readonly TextPiece[], total: number): string[] {
  const safe = pieces.map((piece) => made(piece.text, piece));
  const at = (cap: number) =>
    pieces.map((piece, index) => {
      const prefix = piece.prefix ?? '';
      const suffix = piece.suffix ?? '';
      return prefix + fitSafe(safe[index]!, Math.min(piece.max, cap) - prefix.length - suffix.length, piece.escape ?? noEscape) + suffix;
    });
  const length = (texts: string[]) => texts.reduce((sum, text) => sum + text.length, 0);
  const whole = at(Infinity);
  if (length(whole) <= total) return whole;
  let low = 0;
  let high = Math.max(...whole.map((text) => text.length));
  while (low < high) {
    const cap = Math.ceil((low + high) / 2);
    if (length(at(cap)) <= total) low = cap;
    else high = cap - 1;
  }
  return at(low);
}

/** Outside text made safe and cut to `max` UTF-16 code units at a code point boundary, with a marker saying how much was cut. */
export function truncate(text: string, max: number): string {
  return fitText(text, max);
}
