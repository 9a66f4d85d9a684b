/**
 * `git push --porcelain` prints one line per ref: `<flag>\t<from>:<to>\t<summary>`, where the
 * flag is ' ' (fast-forward), '+' (forced), '-' (deleted), '*' (new), '=' (up to date) or
 * '!' (rejected). That line, not the exit code or stderr prose, is what push() trusts.
 */
export interface PushRefStatus {
  flag: ' ' | '+' | '-' | '*' | '=' | '!';
  ref: string;
  summary: string;
}

/** The status line of the (single) ref pushed, or undefined when git printed none. */
export function parsePushPorcelain(stdout: string): PushRefStatus | undefined {
  for (const line of stdout.split('\n')) {
    const match = /^([ +\-*=!])\t([^\t]+)\t(.*)$/.exec(line);
    if (match) return { flag: match[1] as PushRefStatus['flag'], ref: match[2] ?? '', summary: (match[3] ?? '').trim() };
  }
  return undefined;
}
