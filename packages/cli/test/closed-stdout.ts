import { spawn } from 'node:child_process';
import { AGENTBUS_BIN, tempDir } from '@agentbus/testkit';

/**
 * Runs `agentbus <args>` whose standard output's reader is gone before the first line, as in
 * `agentbus … | head` once head has exited: every write to stdout fails with EPIPE.
 */
export function runCliIntoClosedPipe(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENTBUS_BIN, ...args], { cwd: tempDir('agentbus-cli-'), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}
