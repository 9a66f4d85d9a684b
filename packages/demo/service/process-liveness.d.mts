/** True when `pid` is a live process that is not a zombie (no /proc: alive when signal 0 succeeds). */
export function isRunning(pid: number): boolean;
