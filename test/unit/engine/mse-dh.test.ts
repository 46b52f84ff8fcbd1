import assert from 'node:assert/strict';
import { createDiffieHellman } from 'node:crypto';
import { test } from 'node:test';
import { installMseDh, MSE_PRIME_HEX, MseDh } from '../../../src/engine/mse-dh.js';
import { encryptorPrototype } from '../../../src/engine/internals.js';

test('MseDh agrees with Node: both ends derive the same 96-byte secret', () => {
  for (let i = 0; i < 5; i++) {
    const node = createDiffieHellman(MSE_PRIME_HEX, 'hex', 2);
    const nodePub = node.generateKeys();
    const ours = new MseDh();
    const ourPub = ours.generateKeys();
    assert.equal(ourPub.length, 96);
    const s1 = ours.computeSecret(nodePub);
    const s2 = node.computeSecret(ourPub);
    assert.equal(s1.length, 96);
    assert.equal(s1.toString('hex'), Buffer.concat([Buffer.alloc(96 - s2.length), s2]).toString('hex'));
  }
  const a = new MseDh();
  const b = new MseDh();
  assert.deepEqual(a.computeSecret(b.generateKeys()), b.computeSecret(a.generateKeys()));
  assert.notDeepEqual(a.generateKeys(), b.generateKeys());
});

/** The exchange by the definition, in BigInt: base^exp mod P. */
function modPow(base: bigint, exp: bigint): bigint {
  const p = BigInt(`0x${MSE_PRIME_HEX}`);
  let result = 1n;
  base %= p;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % p;
    base = (base * base) % p;
    exp >>= 1n;
  }
  return result;
}
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex')}`);

test('MseDh: connections sharing the one native DH each keep their own key (interleaved calls, BigInt reference)', () => {
  const peers = Array.from({ length: 6 }, () => new MseDh());
  // Interleave: every public key first, then every secret, so each call must set its own private key.
  const pubs = peers.map((p) => p.generateKeys());
  assert.equal(new Set(pubs.map((p) => p.toString('hex'))).size, peers.length, 'distinct keys');
  for (let a = 0; a < peers.length; a++) {
    const x = big((peers[a] as any).x);
    assert.equal(big(pubs[a]), modPow(2n, x), 'public key is 2^x mod P');
    assert.equal(pubs[a].length, 96);
    const b = (a + 1) % peers.length;
    const s = peers[a].computeSecret(pubs[b]);
    assert.equal(s.length, 96);
    assert.equal(big(s), modPow(big(pubs[b]), x), 'secret is Y^x mod P');
    assert.deepEqual(s, peers[b].computeSecret(pubs[a]), 'both ends agree');
    assert.deepEqual(peers[a].generateKeys(), pubs[a], 'the public key does not change');
  }
});

test('MseDh refuses degenerate public keys', () => {
  const d = new MseDh();
  assert.throws(() => d.computeSecret(Buffer.alloc(96)), /invalid/);
  assert.throws(() => d.computeSecret(Buffer.from([1])), /invalid/);
  assert.throws(() => d.computeSecret(Buffer.from(MSE_PRIME_HEX, 'hex')), /invalid/);
});

test('fence: bittorrent-protocol still creates its DH in the encryptor `dh` getter, and ours replaces it', () => {
  const proto = encryptorPrototype();
  assert.ok(proto, 'Wire#_encryptor (MessageStreamEncryptor) is gone');
  assert.equal(
    typeof Object.getOwnPropertyDescriptor(proto, 'dh')?.get,
    'function',
    'MessageStreamEncryptor#dh getter is gone',
  );
  for (const m of ['generateStepA1', 'handleStepA2', 'generateStepB2']) assert.equal(typeof proto[m], 'function', m);
  assert.ok(installMseDh());
  const enc = Object.create(proto);
  assert.ok(enc.dh instanceof MseDh);
  assert.equal(enc.dh, enc.dh, 'one per encryptor');
});
