import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMagnet, parseMagnet } from '../../../src/torrent/magnet.js';
import { TorrentError } from '../../../src/torrent/types.js';

const V1 = '0123456789abcdef0123456789abcdef01234567';
const V2 = 'aa'.repeat(32);

test('hybrid magnet: exact layout and round trip with escaping', () => {
  const input = {
    infoHashV1: V1.toUpperCase(),
    infoHashV2: V2,
    name: 'org/model 7B & friends+ü?#=',
    trackers: ['http://127.0.0.1:8000/announce?key=a&b=c', 'udp://t:80'],
    webSeeds: ['https://host/models/a b/'],
    peers: ['127.0.0.1:6881', '[::1]:6882'],
  };
  const uri = buildMagnet(input);
  assert.ok(uri.startsWith(`magnet:?xt=urn:btih:${V1}&xt=urn:btmh:1220${V2}&dn=`), uri);
  const dn = uri.split('&dn=')[1].split('&')[0];
  assert.ok(!/[ #?&=+/]/.test(dn), `dn is escaped: ${dn}`);
  const back = parseMagnet(uri);
  assert.deepEqual(back, {
    infoHashV1: V1,
    infoHashV2: V2,
    name: input.name,
    trackers: input.trackers,
    webSeeds: input.webSeeds,
    peers: input.peers,
  });
});

test('v1-only and v2-only round trips', () => {
  assert.deepEqual(parseMagnet(buildMagnet({ infoHashV1: V1, trackers: [], webSeeds: [] })), {
    infoHashV1: V1,
    trackers: [],
    webSeeds: [],
    peers: [],
  });
  const v2 = parseMagnet(buildMagnet({ infoHashV2: V2, name: 'x' }));
  assert.equal(v2.infoHashV2, V2);
  assert.equal(v2.infoHashV1, undefined);
  assert.equal(v2.name, 'x');
});

test('btih in base32, + as space, numbered keys, unknown keys ignored', () => {
  // base32 of 20 bytes 0x00..0x13
  const bytes = Buffer.from(Array.from({ length: 20 }, (_, i) => i));
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const x of bytes) bits += x.toString(2).padStart(8, '0');
  const b32 = bits
    .match(/.{5}/g)!
    .map((c) => alphabet[parseInt(c, 2)])
    .join('');
  const m = parseMagnet(`magnet:?xt=urn:btih:${b32}&dn=a+b&tr.1=http%3A%2F%2Ft%2Fa&tr.2=http://u/a&xl=5&kt=x`);
  assert.equal(m.infoHashV1, bytes.toString('hex'));
  assert.equal(m.name, 'a b');
  assert.deepEqual(m.trackers, ['http://t/a', 'http://u/a']);
});

test('bad magnets are refused with one-line errors', () => {
  const bad: [string, RegExp][] = [
    ['http://x', /must start with "magnet:\?"/],
    ['magnet:?dn=x', /no xt=urn:btih: or xt=urn:btmh: infohash/],
    ['magnet:?xt=urn:sha1:ABC', /not a BitTorrent magnet/],
    ['magnet:?xt=urn:btih:1234', /neither 40 hex digits nor 32 base32/],
    [`magnet:?xt=urn:btmh:1114${V2}`, /not a SHA-256 multihash/],
    [`magnet:?xt=urn:btmh:1220${V2.slice(2)}`, /1220 followed by 64 hex digits/],
    [`magnet:?xt=urn:btih:${V1}&xt=urn:btih:${'f'.repeat(40)}`, /two different v1 infohashes/],
    [`magnet:?xt=urn:btih:${V1}&dn=%E0%A4%A`, /"dn" is not correctly percent-escaped/],
    [`magnet:?xt=urn:btih:${V1}&x.pe=nope`, /peer "nope" is not HOST:PORT/],
    [`magnet:?xt=urn:btih:${V1}&tr`, /"tr" has no value/],
  ];
  for (const [uri, re] of bad) {
    assert.throws(
      () => parseMagnet(uri),
      (e: unknown) => e instanceof TorrentError && re.test(e.message) && !e.message.includes('\n'),
      uri,
    );
  }
  assert.throws(() => buildMagnet({}), /needs a v1 or v2 infohash/);
  assert.throws(() => buildMagnet({ infoHashV1: 'xyz' }), /40 hex digits/);
  assert.throws(() => buildMagnet({ infoHashV2: V1 }), /64 hex digits/);
});

test('classifySource: magnet, .torrent file, 40-hex v1, 64-hex v2 (a btmh magnet), anything else refused', async () => {
  const { classifySource } = await import('../../../src/torrent/magnet.js');
  const none = () => false;
  assert.deepEqual(classifySource(V1.toUpperCase(), none), { kind: 'v1', infoHash: V1 });
  const v2 = classifySource(V2, none);
  assert.equal(v2.kind, 'v2');
  assert.equal(v2.kind === 'v2' && v2.magnet, `magnet:?xt=urn:btmh:1220${V2}`);
  assert.equal(parseMagnet(v2.kind === 'v2' ? v2.magnet : '').infoHashV2, V2);
  const m = classifySource(`magnet:?xt=urn:btih:${V1}`, none);
  assert.equal(m.kind === 'magnet' && m.link.infoHashV1, V1);
  assert.deepEqual(
    classifySource('x.torrent', (p) => p === 'x.torrent'),
    { kind: 'torrent', path: 'x.torrent' },
  );
  // A file named like a hash is a file.
  assert.equal(classifySource(V1, () => true).kind, 'torrent');
  const refused = (arg: string, re: RegExp) =>
    assert.throws(
      () => classifySource(arg, none),
      (e: unknown) => e instanceof TorrentError && re.test(e.message) && !e.message.includes('\n'),
    );
  refused('hello', /not a magnet link, a \.torrent file, a 40-hex v1 infohash or a 64-hex v2 infohash/);
  refused(V1 + 'ab', /42 hex digits: an infohash has 40 \(v1\) or 64 \(v2\)/);
  refused('models/missing.torrent', /no such torrent file: models\/missing\.torrent/);
  refused('magnet:?xt=urn:sha1:abc', /not a BitTorrent magnet/);
  refused('bad\u0007\nname', /"bad\?\?name" is not/);
});
