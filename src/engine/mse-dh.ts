// The Diffie-Hellman exchange of protocol encryption (MSE/PE, which we accept and libtorrent tries first), without
// Node's 40 ms per connection.
//
// Through the fence src/engine/internals.ts: bittorrent-protocol 5.0.9 (exact pin) creates, per connection, `crypto.createDiffieHellman(prime)` in the
// `dh` getter of MessageStreamEncryptor (reached through a Wire's _encryptor; the package exports only Wire). Node
// checks that prime for primality on every creation: about 40 ms of CPU per connection, more than the rest of the
// handshake and, with 16 peers and their redials, seconds per process in a swarm. Ours computes the same exchange
// with BigInt: the MSE prime is fixed and known to be prime, and a 160-bit private key is what the MSE spec asks
// ("Xa and Xb are ... of at least 128 bits; 160 bits is recommended"). test/unit/engine/mse-dh.test.ts checks it
// against Node's and that the patched getter is in place.
import { randomBytes } from 'node:crypto';
import { replaceEncryptorDh } from './internals.js';

/** The MSE prime (768 bits), as in bittorrent-protocol's mse.js and the spec. */
export const MSE_PRIME_HEX =
  'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563';
const P = BigInt(`0x${MSE_PRIME_HEX}`);
const KEY_BYTES = 96;

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return result;
}

function toBytes(n: bigint): Buffer {
  return Buffer.from(n.toString(16).padStart(KEY_BYTES * 2, '0'), 'hex');
}

/** The part of Node's DiffieHellman the encryptor uses: generateKeys() and computeSecret(theirs). */
export class MseDh {
  private readonly x = BigInt(`0x${randomBytes(20).toString('hex')}`);
  private pub?: Buffer;

  /** Our public key, 2^x mod P, 96 bytes big-endian. */
  generateKeys(): Buffer {
    this.pub ??= toBytes(modPow(2n, this.x, P));
    return this.pub;
  }

  getPublicKey(): Buffer {
    return this.generateKeys();
  }

  /** The shared secret S = Y^x mod P, 96 bytes (zero-padded, as Node gives it and MSE hashes it). */
  computeSecret(theirs: Uint8Array): Buffer {
    const y = BigInt(`0x${Buffer.from(theirs).toString('hex') || '0'}`);
    if (y <= 1n || y >= P - 1n) throw new Error('MSE: peer sent an invalid Diffie-Hellman public key');
    return toBytes(modPow(y, this.x, P));
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
