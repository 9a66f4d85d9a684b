import { GitError } from './errors.ts';

/**
 * Validation of names that reach git's command line. Everything a message or a user gives
 * (a branch, a tag, a sha) passes through here before it becomes an argument, so that it can
 * never be read as an option and always names a ref git itself would accept.
 */

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ABBREVIATED_SHA = /^[0-9a-f]{7,64}$/;
// eslint-disable-next-line no-control-regex -- git refuses control characters in ref names (git check-ref-format)
const FORBIDDEN_CHARACTERS = /[\x00-\x20\x7f~^:?*[\\]/;

/**
 * Why `name` is not a valid ref name (git check-ref-format rules, for a branch or tag name
 * without the refs/heads/ prefix), or undefined when it is valid. Also refuses a leading "-".
 */
export function refNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 255) return 'is longer than 255 characters';
  if (name.startsWith('-')) return 'starts with "-" (it would be read as an option)';
  if (FORBIDDEN_CHARACTERS.test(name)) return 'contains a space, a control character or one of ~ ^ : ? * [ \\';
  if (name.includes('..')) return 'contains ".."';
  if (name.includes('@{')) return 'contains "@{"';
  if (name === '@') return 'is "@"';
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'has an empty path component (a leading, trailing or double "/")';
  if (name.endsWith('.')) return 'ends with "."';
  for (const component of name.split('/')) {
    if (component.startsWith('.')) return `has a component starting with "." (${component})`;
    if (component.endsWith('.lock')) return `has a component ending with ".lock" (${component})`;
  }
  return undefined;
}

export function isValidRefName(name: string): boolean {
  return refNameProblem(name) === undefined;
}

/** Throws GitError `invalid-argument` naming the problem when `name` is not a valid ref name. */
export function assertValidRefName(name: string, what = 'ref'): void {
  const problem = refNameProblem(name);
  if (problem) {
    throw new GitError('invalid-argument', `invalid ${what} ${JSON.stringify(name)}: ${problem}`, {
      hint: 'use a branch, tag or commit name as git accepts it (git check-ref-format), e.g. feature/login-fix',
      details: { [what]: name },
    });
  }
}

export function isFullSha(value: string): boolean {
  return FULL_SHA.test(value);
}

export function isAbbreviatedSha(value: string): boolean {
  return ABBREVIATED_SHA.test(value);
}

/** Throws GitError `invalid-argument` unless `sha` is a full lower-case commit id (40 or 64 hex digits). */
export function assertFullSha(sha: string, what = 'commit'): void {
  if (!isFullSha(sha)) {
    throw new GitError('invalid-argument', `invalid ${what} ${JSON.stringify(sha)}: expected a full 40-character commit sha`, {
      hint: 'pass the full sha (git rev-parse <ref>), not an abbreviation or a branch name',
      details: { [what]: sha },
    });
  }
}
