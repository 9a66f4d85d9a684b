/**
 * How agentbus shows a commit and a duration to a person: in chat, post-mortems, tickets, the
 * timeline, log lines, summaries and hints. One wording everywhere, so that a post-mortem and the
 * chat message about the same incident say the same thing.
 */

/** Characters of a commit shown: enough to find it, short enough to read. */
export const SHORT_SHA_LENGTH = 12;

/** The first 12 characters of a commit (`-` for none). */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, SHORT_SHA_LENGTH) : '-';
}

/** "850 ms", "4.2 s", "1 min 30 s", "3 min 05 s", "2 h 07 min"; `n/a` for a duration not known (null, undefined). */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'n/a';
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1_000) return `${rounded} ms`;
  if (rounded < 60_000) return `${(rounded / 1_000).toFixed(1)} s`;
  const seconds = Math.floor(rounded / 1_000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(seconds / 3_600)} h ${String(Math.floor((seconds % 3_600) / 60)).padStart(2, '0')} min`;
}
