/**
 * Text an outgoing payload must survive: long, full of emoji at every cut position, runs of the
 * characters Slack escapes, control characters and terminal escapes, mentions. Every builder of
 * an outgoing payload is fed these in every text it takes.
 */

const EMOJI = '😀';

/** `'a' × k` then emoji: for k = 0, 1, 2 … a cut at any length falls once inside and once between surrogate pairs. */
export const emojiAtEveryCut = (length: number, shifts = 3): string[] => Array.from({ length: shifts }, (_, k) => 'a'.repeat(k) + EMOJI.repeat(Math.ceil(length / 2)));

/** `'a' × k` then `&`, `<` or `>`: for k = 0 … 4 a cut of the escaped text falls at every position inside an entity. */
export const entitiesAtEveryCut = (length: number): string[] => ['&', '<', '>', '&<>'].flatMap((run) => Array.from({ length: 5 }, (_, k) => 'a'.repeat(k) + run.repeat(Math.ceil(length / run.length))));

export const CONTROL = '\x00\x1b[31mred\x1b[0m\r\nline\x07\x08\x7f\x9b2J\u202eevil\u2066\ud800 \udc00\t';

/** One of each kind, about `length` UTF-16 units long (at least 10 kB unless asked for less). */
export function hostileTexts(length = 10_000): string[] {
  return [
    'x'.repeat(length),
    ...emojiAtEveryCut(length),
    ...entitiesAtEveryCut(length),
    CONTROL.repeat(Math.ceil(length / CONTROL.length)),
    '<!channel> <!everyone> <@U123> @everyone @here &amp; '.repeat(Math.ceil(length / 52)),
    `${'🚨'.repeat(3)}${'é\u0301'.repeat(length / 2)}`,
    CONTROL,
    '',
  ];
}

/** The same, each cut to at most `max` UTF-16 units (for inputs the schemas bound), at both parities (a half emoji is hostile input too). */
export function hostileTextsUpTo(max: number): string[] {
  return hostileTexts(max + 8).flatMap((text) => [text.slice(0, max), text.slice(0, max - 1)]);
}
