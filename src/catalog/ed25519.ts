// Ed25519 primitives. Keys are made with tweetnacl; signing and bulk verification go through node:crypto, which gives
// the very same (deterministic) signatures and verifies ~150x faster than tweetnacl here (bench/catalog.mjs prints both).
import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import nacl from 'tweetnacl';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// Parsing a public key into a KeyObject costs more than a verify; publishers sign many entries, so cache them.
const publicKeys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 100_000;

function publicKeyObject(pub: Uint8Array): KeyObject {
  const hex = Buffer.from(pub).toString('hex');
  let key = publicKeys.get(hex);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
    if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
    publicKeys.set(hex, key);
  }
  return key;
}

/** True when `sig` is `pub`'s signature of `msg`. Never throws: a malformed key or signature is just invalid. */
export function verifySignature(msg: Uint8Array, sig: Uint8Array, pub: Uint8Array): boolean {
  if (sig.length !== 64 || pub.length !== 32) return false;
  try {
    return cryptoVerify(null, msg, publicKeyObject(pub), sig);
  } catch {
    return false;
  }
}

/** The same check with tweetnacl (the reference the benchmark compares against). */
export function verifySignatureNacl(msg: Uint8Array, sig: Uint8Array, pub: Uint8Array): boolean {
  if (sig.length !== 64 || pub.length !== 32) return false;
  return nacl.sign.detached.verify(msg, sig, pub);
}

/** A signer for one 64-byte tweetnacl secret key (seed || public key). */
export function makeSigner(secretKey: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, secretKey.subarray(0, 32)]),
    format: 'der',
    type: 'pkcs8',
  });
  return (msg) => new Uint8Array(cryptoSign(null, msg, key));
}

export function keyPairFromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return nacl.sign.keyPair.fromSeed(seed);
}

export function newKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return nacl.sign.keyPair();
}
