// Outgoing connections open in plaintext; a peer that closed a plaintext handshake is dialled with MSE for a while.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MSE_MEMORY_MS, PlainFirst } from '../../../src/engine/plain-first.js';

test('plaintext first; MSE for a peer that refused plaintext, until the memory lapses', () => {
  const p = new PlainFirst();
  assert.equal(p.plaintext('10.0.0.1:6881', 0), true);
  p.refused('10.0.0.1:6881', 1000);
  assert.equal(p.plaintext('10.0.0.1:6881', 2000), false, 'the reconnect a second later uses MSE');
  assert.equal(p.plaintext('10.0.0.2:6881', 2000), true, 'other peers are not affected');
  assert.equal(p.plaintext('10.0.0.1:6881', 1000 + MSE_MEMORY_MS), true, 'after a while, plaintext again');
});

test('a peer refusing again and again is remembered once; the oldest are forgotten beyond the cap', () => {
  const p = new PlainFirst(60_000);
  for (let i = 0; i < 5000; i++) p.refused(`10.0.${i >> 8}.${i & 255}:6881`, i);
  assert.equal(p.plaintext('10.0.0.0:6881', 5000), true, 'the oldest fell out');
  assert.equal(p.plaintext('10.0.19.135:6881', 5000), false, 'a recent one is kept');
});
