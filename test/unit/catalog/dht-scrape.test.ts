// BEP 33's bloom filter: the BEP's own test vector.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { bloomAdd, bloomSize } from '../../../src/catalog/dht-scrape.js';

const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest();

test('BEP 33 test vector: 192.0.2.0-255 and 2001:db8::0-3e7 estimate 1224.93', () => {
  const f = new Uint8Array(256);
  for (let i = 0; i <= 255; i++) bloomAdd(f, Uint8Array.from([192, 0, 2, i]), sha1);
  for (let i = 0; i <= 0x3e7; i++) {
    const ip = new Uint8Array(16);
    ip[0] = 0x20;
    ip[1] = 0x01;
    ip[2] = 0x0d;
    ip[3] = 0xb8;
    ip[14] = i >> 8;
    ip[15] = i & 0xff;
    bloomAdd(f, ip, sha1);
  }
  assert.ok(Math.abs(bloomSize(f) - 1224.93) < 0.01, String(bloomSize(f)));
});

test('an empty filter holds nobody; one IP reads as one', () => {
  assert.equal(bloomSize(new Uint8Array(256)), 0);
  const f = new Uint8Array(256);
  bloomAdd(f, Uint8Array.from([127, 0, 0, 1]), sha1);
  assert.equal(Math.round(bloomSize(f)), 1);
});
