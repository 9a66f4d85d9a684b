import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { agentbusIdentities, authorizationConfig } from './identities.ts';
import type { ConsumerDefinition } from './definitions.ts';

/** The server config fragment `agentbus auth init` writes beside the keys. */
export const AUTHORIZATION_FILE = 'authorization.conf';

export interface CredentialFiles {
  dir: string;
  /** The nats-server fragment (public keys and permissions): include it from the server config. */
  authorizationFile: string;
  identities: Array<{ name: string; publicKey: string; seedFile: string; created: boolean }>;
}

/**
 * Writes one nkey per identity (`<dir>/<identity>.nk`, the seed, mode 0600, in a 0700 directory;
 * an existing key is kept) and, from the topology of this version, the server's authorization
 * fragment (`<dir>/authorization.conf`, public keys only). Run again after an upgrade: the keys
 * stay, the permissions follow the topology. Seeds are never printed or logged.
 */
export function writeCredentialFiles(dir: string, consumers?: readonly ConsumerDefinition[]): CredentialFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const identities = agentbusIdentities(consumers).map(({ name, permissions }) => {
    const seedFile = join(dir, `${name}.nk`);
    const created = !existsSync(seedFile);
    if (created) {
      const user = nkeys.createUser();
      writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600, flag: 'wx' });
    }
    const publicKey = nkeys.fromSeed(new TextEncoder().encode(readFileSync(seedFile, 'utf8').trim())).getPublicKey();
    return { name, publicKey, seedFile, created, permissions };
  });
  const authorizationFile = join(dir, AUTHORIZATION_FILE);
  writeFileSync(authorizationFile, authorizationConfig(identities.map(({ name, publicKey, permissions }) => ({ name, nkey: publicKey, permissions }))), { mode: 0o644 });
  return { dir, authorizationFile, identities: identities.map(({ name, publicKey, seedFile, created }) => ({ name, publicKey, seedFile, created })) };
}
