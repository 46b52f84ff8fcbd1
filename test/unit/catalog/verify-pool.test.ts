// The verify pool: jobs are shared out to worker threads, and every verdict comes back to its own job.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifySignature } from '../../../src/catalog/ed25519.js';
import { splitRecord } from '../../../src/catalog/entry.js';
import { Identity } from '../../../src/catalog/identity.js';
import { POOL_THRESHOLD, VerifyPool, type VerifyJob } from '../../../src/catalog/verify-pool.js';
import { makeEntry } from './helpers.js';

test('every verdict of a pooled batch goes back to its own job: mixed keys, forged signatures and wrong keys among them', async () => {
  const keys = Array.from({ length: 9 }, () => Identity.generate());
  const jobs: VerifyJob[] = [];
  for (let i = 0; i < POOL_THRESHOLD + 300; i++) {
    const id = keys[(i * 5) % keys.length];
    const { body, sig } = splitRecord(makeEntry(id, `pool/m${i}`).record);
    // Every 7th signature forged (a bit flipped), every 11th job claims another key: both must fail, in place.
    const s = new Uint8Array(sig);
    if (i % 7 === 3) s[i % 64] ^= 1;
    const pub = Buffer.from((i % 11 === 5 ? keys[(i * 5 + 1) % keys.length] : id).publisher, 'hex');
    jobs.push({ body, sig: s, pub });
  }
  const expected = jobs.map((j) => verifySignature(j.body, j.sig, j.pub));
  assert.ok(expected.includes(true) && expected.includes(false));
  const pool = new VerifyPool(2);
  try {
    assert.deepEqual(await pool.verify(jobs), expected);
  } finally {
    await pool.close();
  }
});
