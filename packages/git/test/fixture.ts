import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '@agentbus/testkit';
import { GitRepo, initBareRepository, runGit } from '@agentbus/git';

export const identity = { name: 'agentbus test', email: 'test@agentbus.invalid' };
const identityEnv = {
  GIT_AUTHOR_NAME: 'A Developer',
  GIT_AUTHOR_EMAIL: 'dev@example.invalid',
  GIT_COMMITTER_NAME: 'A Developer',
  GIT_COMMITTER_EMAIL: 'dev@example.invalid',
};

/** A bare origin, a developer clone that pushes feature branches, and the production working clone. */
export interface GitFixture {
  dir: string;
  origin: string;
  repo: GitRepo;
  /** Runs git in the developer clone (never the working clone under test). */
  dev(args: string[]): Promise<string>;
  /** Commits `files` on a new branch `name` from origin/main in the developer clone and pushes it; returns the commit. */
  featureBranch(name: string, files: Record<string, string>, message?: string): Promise<string>;
  /** Commits `files` directly on origin's main from the developer clone (someone pushing around agentbus). */
  pushToMain(files: Record<string, string>, message: string): Promise<string>;
  /** Installs an executable hook script in origin. */
  originHook(name: string, script: string): void;
  /** git in any directory, with the developer identity. */
  git(cwd: string, args: string[]): Promise<string>;
}

export async function gitFixture(): Promise<GitFixture> {
  const dir = tempDir('agentbus-git-');
  const origin = join(dir, 'origin.git');
  const devPath = join(dir, 'dev');
  await initBareRepository(origin, { defaultBranch: 'main' });
  const git = async (cwd: string, args: string[]) => (await runGit(args, { cwd, env: identityEnv })).stdout.trim();
  await git(dir, ['clone', '--quiet', origin, devPath]);
  const write = (files: Record<string, string>) => {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(devPath, path)), { recursive: true });
      writeFileSync(join(devPath, path), content);
    }
  };
  const commit = async (files: Record<string, string>, message: string) => {
    write(files);
    await git(devPath, ['add', '--', ...Object.keys(files)]);
    await git(devPath, ['commit', '--quiet', '-m', message]);
    return git(devPath, ['rev-parse', 'HEAD']);
  };
  await git(devPath, ['checkout', '--quiet', '-b', 'main']);
  await commit({ 'app.txt': 'line 1\nline 2\nline 3\n', 'README.md': '# service\n' }, 'Initial service');
  await git(devPath, ['push', '--quiet', 'origin', 'main']);
  const repo = await GitRepo.clone(origin, join(dir, 'work'), { branch: 'main', identity });
  return {
    dir,
    origin,
    repo,
    git,
    dev: (args) => git(devPath, args),
    async featureBranch(name, files, message = `Change on ${name}`) {
      await git(devPath, ['fetch', '--quiet', 'origin']);
      await git(devPath, ['checkout', '--quiet', '-B', name, 'origin/main']);
      const sha = await commit(files, message);
      await git(devPath, ['push', '--quiet', 'origin', `${name}:${name}`]);
      return sha;
    },
    async pushToMain(files, message) {
      await git(devPath, ['fetch', '--quiet', 'origin']);
      await git(devPath, ['checkout', '--quiet', '-B', 'main', 'origin/main']);
      const sha = await commit(files, message);
      await git(devPath, ['push', '--quiet', 'origin', 'main:main']);
      return sha;
    },
    originHook(name, script) {
      const path = join(origin, 'hooks', name);
      writeFileSync(path, `#!/bin/sh\n${script}\n`);
      chmodSync(path, 0o755);
    },
  };
}
