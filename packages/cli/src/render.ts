/** How the CLI shows message bodies, times and tables. */

const decoder = new TextDecoder();

/** A body as JSON when it is JSON, else as text. */
export function bodyValue(data: Uint8Array): unknown {
  const text = decoder.decode(data);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function shortTime(date: Date | string | undefined): string {
  if (!date) return '-';
  const iso = typeof date === 'string' ? date : date.toISOString();
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Left-aligned columns, widths from the content. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}
