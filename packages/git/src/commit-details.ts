/** What a post-mortem needs to know about one commit. */
export interface CommitDetails {
  sha: string;
  /** First parent first; two or more parents: a merge commit. */
  parents: string[];
  isMerge: boolean;
  author: GitPerson;
  committer: GitPerson;
  subject: string;
  /** The message after the subject line, trailers included; '' when there is none. */
  body: string;
  /** Changes against the first parent (for a merge: what the merge brought into the branch). */
  files: ChangedFile[];
  totals: { files: number; added: number; deleted: number };
}

export interface GitPerson {
  name: string;
  email: string;
  /** ISO 8601 with the offset git recorded. */
  date: string;
}

export interface ChangedFile {
  path: string;
  /** Set when git detected a rename: the path before. */
  previousPath?: string;
  /** Lines added and deleted; null for a binary file. */
  added: number | null;
  deleted: number | null;
}

/** `git show -s --format=` for parseCommitHeader: NUL-separated, body last (it may contain anything but NUL). */
export const COMMIT_HEADER_FORMAT = '%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s%x00%b';

export function parseCommitHeader(output: string): Omit<CommitDetails, 'files' | 'totals'> {
  const [sha = '', parents = '', authorName = '', authorEmail = '', authorDate = '', committerName = '', committerEmail = '', committerDate = '', subject = '', ...body] =
    output.split('\0');
  const parentList = parents.split(' ').filter(Boolean);
  return {
    sha: sha.trim(),
    parents: parentList,
    isMerge: parentList.length > 1,
    author: { name: authorName, email: authorEmail, date: authorDate },
    committer: { name: committerName, email: committerEmail, date: committerDate },
    subject,
    body: body.join('\0').trim(),
  };
}

/** Parses `git show -z --numstat --format=` output: `added\tdeleted\tpath\0`, renames as `added\tdeleted\t\0old\0new\0`. */
export function parseNumstat(output: string): ChangedFile[] {
  const tokens = output.replace(/^\n+/, '').split('\0');
  const files: ChangedFile[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    const match = /^(\d+|-)\t(\d+|-)\t(.*)$/s.exec(token.replace(/^\n/, ''));
    if (!match) continue;
    const added = match[1] === '-' ? null : Number(match[1]);
    const deleted = match[2] === '-' ? null : Number(match[2]);
    if (match[3]) {
      files.push({ path: match[3], added, deleted });
    } else {
      const previousPath = tokens[++i] ?? '';
      const path = tokens[++i] ?? '';
      files.push({ path, previousPath, added, deleted });
    }
  }
  return files;
}

export function totalsOf(files: readonly ChangedFile[]): CommitDetails['totals'] {
  return {
    files: files.length,
    added: files.reduce((sum, file) => sum + (file.added ?? 0), 0),
    deleted: files.reduce((sum, file) => sum + (file.deleted ?? 0), 0),
  };
}
