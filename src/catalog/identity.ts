// The publisher identity: one ed25519 key pair. The CLI keeps it in the state directory (mode 0600); the editor
// passes its own KeyStore backed by SecretStorage. Users see it as a short fingerprint.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { keyPairFromSeed, makeSigner, newKeyPair } from './ed25519.js';
import { writeFileAtomic } from '../shared/atomic-file.js';

/** Where the 32-byte secret seed lives. */
export interface KeyStore {
  load(): Promise<Uint8Array | undefined>;
  save(seed: Uint8Array): Promise<void>;
}

export class Identity {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  private readonly signer: (msg: Uint8Array) => Uint8Array;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new Error('a publisher seed is 32 bytes');
    const pair = keyPairFromSeed(seed);
    this.publicKey = pair.publicKey;
    this.secretKey = pair.secretKey;
    this.signer = makeSigner(pair.secretKey);
  }

  static generate(): Identity {
    return new Identity(newKeyPair().secretKey.slice(0, 32));
  }

  get seed(): Uint8Array {
    return this.secretKey.slice(0, 32);
  }

  get publisher(): string {
    return Buffer.from(this.publicKey).toString('hex');
  }

  get fingerprint(): string {
    return fingerprint(this.publicKey);
  }

  sign(msg: Uint8Array): Uint8Array {
    return this.signer(msg);
  }
}

/** 64 bits of SHA-256(public key) in four groups, e.g. `3f2a:91c0:7d44:e801`: enough to tell publishers apart by eye. */
export function fingerprint(publicKey: Uint8Array | string): string {
  const bytes = typeof publicKey === 'string' ? Buffer.from(publicKey, 'hex') : publicKey;
  const hex = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return hex.match(/.{4}/g)!.join(':');
}

/** The CLI's store: `<home>/identity.key`, hex seed, readable by its owner only. */
export class FileKeyStore implements KeyStore {
  constructor(readonly path: string) {}

  static inHome(home: string): FileKeyStore {
    return new FileKeyStore(join(home, 'identity.key'));
  }

  async load(): Promise<Uint8Array | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const hex = text.trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`${this.path} does not hold a publisher key (64 hex digits)`);
    return Buffer.from(hex, 'hex');
  }

  async save(seed: Uint8Array): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, Buffer.from(seed).toString('hex') + '\n', { mode: 0o600 });
  }
}

/** Loads the identity from `store`, creating and saving a new one the first time. */
export async function loadOrCreateIdentity(store: KeyStore): Promise<Identity> {
  const seed = await store.load();
  if (seed) return new Identity(seed);
  const identity = Identity.generate();
  await store.save(identity.seed);
  return identity;
}
