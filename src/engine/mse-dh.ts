// The Diffie-Hellman exchange of protocol encryption (MSE/PE, which we accept and libtorrent tries first), without
// Node's 40 ms per connection.
//
// Through the fence src/engine/internals.ts: bittorrent-protocol 5.0.9 (exact pin) creates, per connection, `crypto.createDiffieHellman(prime)` in the
// `dh` getter of MessageStreamEncryptor (reached through a Wire's _encryptor; the package exports only Wire). Node
// checks that prime for primality on every creation (OpenSSL's DH_check): 15-40 ms of CPU per connection, more than
// the rest of the handshake and, with 16 peers and their redials, seconds per process in a swarm. Ours creates
// Node's DH once per process (one check) and gives each connection its own 160-bit private key on it (the MSE spec:
// "Xa and Xb are ... of at least 128 bits; 160 bits is recommended"): setPrivateKey, then generateKeys derives the
// public key from it and computeSecret uses it. That is OpenSSL's modular exponentiation, ~0.05 ms, where the
// BigInt one used before cost ~0.25 ms warm (2-3% of a downloader's CPU in an N = 16 swarm). JavaScript runs one
// call at a time, so sharing the object between connections is safe: each call sets its key first.
// test/unit/engine/mse-dh.test.ts checks it against Node's own per-connection DH and a BigInt reference, and that
// the patched getter is in place.
import { createDiffieHellman, randomBytes, type DiffieHellman } from 'node:crypto';
import { replaceEncryptorDh } from './internals.js';

/** The MSE prime (768 bits), as in bittorrent-protocol's mse.js and the spec. */
export const MSE_PRIME_HEX =
  'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563';
const P = BigInt(`0x${MSE_PRIME_HEX}`);
const KEY_BYTES = 96;

let shared: DiffieHellman | undefined;
/** Node's DH on the MSE prime, generator 2: created (and its prime checked) once per process, on first use. */
function dh(): DiffieHellman {
  shared ??= createDiffieHellman(Buffer.from(MSE_PRIME_HEX, 'hex'), 2);
  return shared;
}

/** Big-endian, left-padded with zeros to the prime's 96 bytes (MSE hashes and sends them at that length). */
function pad(b: Buffer): Buffer {
  return b.length >= KEY_BYTES ? b : Buffer.concat([Buffer.alloc(KEY_BYTES - b.length), b]);
}

/** The part of Node's DiffieHellman the encryptor uses: generateKeys() and computeSecret(theirs). */
export class MseDh {
  private readonly x = randomBytes(20);
  private pub?: Buffer;

  /** Our public key, 2^x mod P, 96 bytes big-endian. */
  generateKeys(): Buffer {
    if (!this.pub) {
      const d = dh();
      d.setPrivateKey(this.x);
      this.pub = pad(d.generateKeys());
    }
    return this.pub;
  }

  getPublicKey(): Buffer {
    return this.generateKeys();
  }

  /** The shared secret S = Y^x mod P, 96 bytes (zero-padded, as MSE hashes it). */
  computeSecret(theirs: Uint8Array): Buffer {
    const y = BigInt(`0x${Buffer.from(theirs).toString('hex') || '0'}`);
    if (y <= 1n || y >= P - 1n) throw new Error('MSE: peer sent an invalid Diffie-Hellman public key');
    const d = dh();
    d.setPrivateKey(this.x);
    return pad(d.computeSecret(Buffer.from(theirs)));
  }
}

let installed = false;

/** Replaces the encryptor's `dh` getter, process-wide (once). */
export function installMseDh(): boolean {
  if (installed) return true;
  if (!replaceEncryptorDh(() => new MseDh())) return false; // another version: Node's DH stays
  installed = true;
  return true;
}
