import { safeLine, safeText } from '@agentbus/contracts';

/**
 * The message of a revert commit made by agentbus, and how any revert is recognised.
 *
 * A revert is recognised by git's own sentence "This reverts commit <sha>" (written by
 * `git revert`, by hand-made reverts that keep git's message, and by agentbus) or by the
 * `Agentbus-Reverts: <sha>` trailer. Matching on a full sha, never on a subject, means a revert
 * of a revert names the revert, not the original, so it is never mistaken for the original's.
 */

export const RevertTrailers = {
  /** The full sha of the reverted commit. */
  reverts: 'Agentbus-Reverts',
  /** The deployment whose rollback made this revert. */
  deployment: 'Agentbus-Deployment',
} as const;

const REVERT_SENTENCE = /This reverts commit ([0-9a-f]{40}(?:[0-9a-f]{24})?)\b/;
const REVERT_TRAILER = new RegExp(`^${RevertTrailers.reverts}:\\s*([0-9a-f]{40}(?:[0-9a-f]{24})?)\\s*$`, 'm');

/** The sha a commit message says it reverts, or undefined when it is not a revert. */
export function revertedShaIn(message: string): string | undefined {
  return REVERT_TRAILER.exec(message)?.[1] ?? REVERT_SENTENCE.exec(message)?.[1];
}

export interface RevertMessageInput {
  revertedSha: string;
  revertedSubject: string;
  /** For a merge: the first parent, the side the branch is restored to. */
  restoredParent: string | undefined;
  deploymentId: string | undefined;
  reason: string | undefined;
}

/**
 * The paragraphs of the message (each becomes one `git commit -m`): git's wording plus agentbus
 * trailers. The reason (built from a health check's error or a deploy command's output) and the
 * reverted subject are outside text: made safe (safeText) and bounded here.
 */
export function revertMessageParagraphs(input: RevertMessageInput): string[] {
  const sentence = input.restoredParent
    ? `This reverts commit ${input.revertedSha}, reversing changes made to ${input.restoredParent}.`
    : `This reverts commit ${input.revertedSha}.`;
  const trailers = [`${RevertTrailers.reverts}: ${input.revertedSha}`];
  if (input.deploymentId) trailers.push(`${RevertTrailers.deployment}: ${input.deploymentId}`);
  const reason = input.reason ? safeText(input.reason, { max: 4_000 }).trim() : '';
  return [`Revert "${safeLine(input.revertedSubject, 200)}"`, sentence, ...(reason ? [reason] : []), trailers.join('\n')];
}

/** Formats trailers (`Key: value` lines; check them with trailerProblem first), each value made one safe line. */
export function formatTrailers(trailers: Record<string, string>): string {
  return Object.entries(trailers)
    .map(([key, value]) => `${key}: ${safeLine(value, 500)}`)
    .join('\n');
}

/** Why these trailers cannot be written, or undefined when they can (a value with line breaks can: it becomes one line). */
export function trailerProblem(trailers: Record<string, string>): string | undefined {
  for (const [key, value] of Object.entries(trailers)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(key)) return `trailer key ${JSON.stringify(key)} must be letters, digits and -`;
    if (safeLine(value, 500).trim() === '') return `trailer ${key} must not be empty`;
  }
  return undefined;
}
