import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { VersionEnvelope, VersionSignature } from './envelope.ts';
import { StateSigningKeyError } from './errors.ts';

/** A key as a KeyObject or PEM text. */
export type KeyInput = KeyObject | string;

/**
 * Per-agent ed25519 signatures. A hash chain alone shows accidental damage, but someone who can
 * write the store can rewrite a version and re-link every later one; without the agent's private
 * key they cannot sign the result, so verify catches it.
 */
export interface SigningOptions {
  /** Private keys of the agents this process writes as: versions they write are signed. */
  privateKeys?: Record<string, KeyInput>;
  /** Public keys trusted when verifying, per agent (several after a key rotation). */
  publicKeys?: Record<string, KeyInput | KeyInput[]>;
  /**
   * Every version must be signed by a key in `publicKeys`: writes without a private key are
   * refused and verify fails on unsigned or unverifiable versions. Without it, only agents that
   * have public keys must sign.
   */
  requireSignatures?: boolean;
}

const SIGNATURE_DOMAIN = 'agentbus-state/signature/v1\n';

/** The outcome of checking one version's signature. Only `valid` and `none` are not problems. */
export const SignatureStatus = {
  /** Signed, and the signature checks out against one of the agent's public keys. */
  valid: 'valid',
  /** Unsigned, and no key is registered for the agent (nor are signatures required). */
  none: 'none',
  /** Unsigned although the agent has a registered key or signatures are required. */
  unsigned: 'unsigned',
  /** Signed with a key the verifier does not know for this agent, or the signature does not verify. */
  invalid: 'invalid',
  /** Signed, but the verifier has no public key for this agent to check it with. */
  unverifiable: 'unverifiable',
} as const;
export type SignatureStatus = (typeof SignatureStatus)[keyof typeof SignatureStatus];

export interface SignatureCheck {
  status: SignatureStatus;
  message: string;
}

interface PublicKeyEntry {
  keyId: string;
  key: KeyObject;
}

/** Signs new versions and checks stored ones, with keys compiled once from SigningOptions. */
export class Keyring {
  readonly #privateKeys = new Map<string, { key: KeyObject; keyId: string }>();
  readonly #publicKeys = new Map<string, PublicKeyEntry[]>();
  readonly requireSignatures: boolean;

  constructor(options: SigningOptions = {}) {
    this.requireSignatures = options.requireSignatures ?? false;
    for (const [agent, input] of Object.entries(options.privateKeys ?? {})) {
      const key = loadKey(input, 'private', agent);
      this.#privateKeys.set(agent, { key, keyId: keyIdOf(createPublicKey(key)) });
    }
    for (const [agent, inputs] of Object.entries(options.publicKeys ?? {})) {
      const list = (Array.isArray(inputs) ? inputs : [inputs]).map((input) => {
        const key = loadKey(input, 'public', agent);
        return { key, keyId: keyIdOf(key) };
      });
      this.#publicKeys.set(agent, list);
    }
  }

  /** True when verify has anything to check signatures against. */
  get checksSignatures(): boolean {
    return this.requireSignatures || this.#publicKeys.size > 0;
  }

  /** The signature for a new version by `agent`, or null when this process has no key for it. */
  sign(agent: string, hash: string): VersionSignature | null {
    const entry = this.#privateKeys.get(agent);
    if (!entry) {
      if (this.requireSignatures) {
        throw new StateSigningKeyError(`signatures are required but there is no private key for agent ${JSON.stringify(agent)}`, 'add the agent\'s ed25519 private key to the signing options (CLI: --sign-key <file>), or write as an agent that has one');
      }
      return null;
    }
    const value = sign(null, Buffer.from(SIGNATURE_DOMAIN + hash, 'utf8'), entry.key).toString('base64');
    return { algorithm: 'ed25519', keyId: entry.keyId, value };
  }

  check(envelope: VersionEnvelope, signature: VersionSignature | null): SignatureCheck {
    const keys = this.#publicKeys.get(envelope.agent);
    if (!signature) {
      if (keys || this.requireSignatures) {
        return { status: SignatureStatus.unsigned, message: `unsigned, but agent ${JSON.stringify(envelope.agent)} must sign its versions` };
      }
      return { status: SignatureStatus.none, message: 'unsigned' };
    }
    if (!keys) {
      return { status: SignatureStatus.unverifiable, message: `signed with key ${signature.keyId}, but no public key of agent ${JSON.stringify(envelope.agent)} is configured` };
    }
    const entry = keys.find((candidate) => candidate.keyId === signature.keyId);
    if (!entry) {
      return { status: SignatureStatus.invalid, message: `signed with key ${signature.keyId}, which is not a key of agent ${JSON.stringify(envelope.agent)}` };
    }
    const ok = verify(null, Buffer.from(SIGNATURE_DOMAIN + envelope.hash, 'utf8'), entry.key, Buffer.from(signature.value, 'base64'));
    return ok ? { status: SignatureStatus.valid, message: 'signed' } : { status: SignatureStatus.invalid, message: `the signature does not match the version hash (key ${signature.keyId})` };
  }
}

/** First 16 hex digits of sha256 over the public key's SPKI DER encoding. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** A new ed25519 key pair as PEM text, with its key id. */
export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

function loadKey(input: KeyInput, kind: 'private' | 'public', agent: string): KeyObject {
  let key: KeyObject;
  try {
    if (typeof input !== 'string') key = input;
    else key = kind === 'private' ? createPrivateKey(input) : createPublicKey(input);
  } catch (error) {
    throw new StateSigningKeyError(`the ${kind} key of agent ${JSON.stringify(agent)} cannot be read: ${(error as Error).message}`, `give a PEM-encoded ed25519 ${kind} key (agentbus state keygen writes one)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new StateSigningKeyError(`the ${kind} key of agent ${JSON.stringify(agent)} is ${key.asymmetricKeyType ?? 'not an asymmetric key'}, not ed25519`, 'generate an ed25519 key pair (agentbus state keygen)');
  }
  if (kind === 'private' && key.type !== 'private') throw new StateSigningKeyError(`the key given as agent ${JSON.stringify(agent)}'s private key is a ${key.type} key`, 'give the private key file, not the public one');
  return kind === 'public' && key.type === 'private' ? createPublicKey(key) : key;
}
