// Whether a process is running, shared by the deploy script and @agentbus/demo (typed by
// process-liveness.d.mts). A zombie counts as dead: on machines whose init does not reap
// orphans, a killed detached server stays a zombie and kill(pid, 0) still succeeds.
import { readFileSync } from 'node:fs';

/** @param {number} pid */
export function isRunning(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
