import { relative } from 'node:path';
import { writeCredentialFiles } from '@agentbus/streams';
import { stringOption, type Command } from '../command.ts';
import { embeddedCredentialsDir } from '../embedded.ts';

export const authInit: Command = {
  path: ['auth', 'init'],
  summary: 'write one NATS key per identity (each service, the operator, the admin) and the nats-server authorization fragment derived from the topology; keeps existing keys',
  usage: '[--dir DIR]',
  options: { dir: { type: 'string' } },
  async run(ctx, args) {
    const dir = stringOption(args, 'dir') ?? ctx.config.natsEnv.NATS_CREDENTIALS_DIR ?? embeddedCredentialsDir(ctx.config.home);
    const files = writeCredentialFiles(dir);
    ctx.out.data({ dir: files.dir, authorizationFile: files.authorizationFile, identities: files.identities });
    ctx.out.line(`keys in ${files.dir} (seeds mode 0600; never printed):`);
    for (const identity of files.identities) {
      ctx.out.line(`  ${identity.name.padEnd(15)} ${identity.publicKey}  ${relative(files.dir, identity.seedFile)}${identity.created ? '  (new)' : ''}`);
    }
    ctx.out.line(`server fragment: ${files.authorizationFile}`);
    ctx.out.line('  include it from each node\'s config (a path relative to that file), e.g. include "auth/authorization.conf"; see infra/nats/README.md');
    ctx.out.line('  each service: NATS_CREDENTIALS_DIR (it picks <service>.nk) or NATS_NKEY_SEED_FILE; the CLI uses operator.nk, and admin.nk for `streams apply` and `up`');
    return 0;
  },
};
