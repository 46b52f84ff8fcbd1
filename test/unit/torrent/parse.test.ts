import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { parseTorrent, decodeStrict, MAX_TORRENT_BYTES } from '../../../src/torrent/parse.js';
import { TorrentError } from '../../../src/torrent/types.js';
import { b, v1Dict, v1SingleDict, v2Built, encodeTorrent } from './parse-fixtures.js';

const refused = (bytes: Uint8Array, re: RegExp, opts = {}) =>
  assert.throws(
    () => parseTorrent(bytes, opts),
    (e: unknown) => {
      assert.ok(e instanceof TorrentError, `expected TorrentError, got ${e}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'), 'one-line message');
      return true;
    },
  );
const enc = (d: unknown) => bencode.encode(d);

test('v1 multi-file: fields, offsets and infohash over the raw info bytes', () => {
  const dict = v1Dict([
    { path: ['a.bin'], length: 20000 },
    { path: ['sub', 'b.json'], length: 5 },
  ]);
  dict['announce-list'] = [[b('http://t1/announce')], [b('http://t2/announce'), b('udp://t3:80')]];
  dict['url-list'] = b('http://seed/');
  dict.comment = b('hi');
  dict['created by'] = b('test');
  dict['creation date'] = 1700000000;
  dict.info.private = 1;
  dict.info.source = b('src');
  const bytes = enc(dict);
  const t = parseTorrent(bytes);
  assert.equal(t.version, 'v1');
  assert.equal(t.name, 'model');
  assert.equal(t.singleFile, false);
  assert.equal(t.pieceLength, 16384);
  assert.equal(t.pieceCount, 2);
  assert.equal(t.length, 20005);
  assert.deepEqual(
    t.files.map((f) => [f.path, f.length, f.offset, f.pad]),
    [
      [['a.bin'], 20000, 0, false],
      [['sub', 'b.json'], 5, 20000, false],
    ],
  );
  assert.deepEqual(t.announce, [['http://t1/announce'], ['http://t2/announce', 'udp://t3:80']]);
  assert.deepEqual(t.urlList, ['http://seed/']);
  assert.equal(t.private, true);
  assert.equal(t.comment, 'hi');
  assert.equal(t.createdBy, 'test');
  assert.equal(t.creationDate, 1700000000);
  assert.equal(t.source, 'src');
  assert.equal(t.infoHashV1, createHash('sha1').update(enc(dict.info)).digest('hex'));
  assert.equal(t.infoHashV2, undefined);
  assert.equal(t.pieces?.length, 40);
});

test('announce alone becomes one tier; url-list may be a list', () => {
  const dict = v1SingleDict(100);
  dict.announce = b('http://only/announce');
  dict['url-list'] = [b('http://a/'), b('http://b/')];
  const t = parseTorrent(enc(dict));
  assert.equal(t.singleFile, true);
  assert.deepEqual(t.files[0].path, ['model.bin']);
  assert.deepEqual(t.announce, [['http://only/announce']]);
  assert.deepEqual(t.urlList, ['http://a/', 'http://b/']);
  assert.equal(t.private, false);
  dict.info.private = 2;
  assert.equal(parseTorrent(enc(dict)).private, true);
});

test('infohash is computed over the raw info bytes, even unsorted keys and non-UTF-8 keys a re-encoding would change', () => {
  // Keys out of order and a binary key: bencode.decode + encode would sort them and hex-encode the binary key.
  const info = Buffer.concat([
    b('d4:name5:model12:piece lengthi16384e6:lengthi10e6:pieces20:'),
    new Uint8Array(20),
    b('2:'),
    Buffer.from([0xff, 0xfe]),
    b('i1ee'),
  ]);
  const bytes = Buffer.concat([b('d4:info'), info, b('e')]);
  const t = parseTorrent(bytes);
  assert.equal(t.infoHashV1, createHash('sha1').update(info).digest('hex'));
  assert.deepEqual(Buffer.from(t.infoBytes), info);
});

test('v2-only: file-tree order, aligned offsets, piece layers keyed by hex root, both hashes', () => {
  const built = v2Built(
    [
      { path: ['a.bin'], length: 40000 },
      { path: ['empty'], length: 0 },
      { path: ['sub', 'x'], length: 1 },
    ],
    { pieceLength: 16384 },
  );
  const bytes = built.bytes();
  const t = parseTorrent(bytes);
  assert.equal(t.version, 'v2');
  assert.equal(t.infoHashV1, undefined);
  const raw = bencode.encode(built.dict.info);
  assert.equal(t.infoHashV2, createHash('sha256').update(raw).digest('hex'));
  assert.deepEqual(
    t.files.map((f) => [f.path.join('/'), f.length, f.offset, !!f.piecesRoot]),
    [
      ['a.bin', 40000, 0, true],
      ['empty', 0, 49152, false],
      ['sub/x', 1, 49152, true],
    ],
  );
  assert.equal(t.pieceCount, 4);
  assert.equal(t.length, 40001);
  assert.equal(t.pieceLayers?.size, 1);
  const root = Buffer.from(t.files[0].piecesRoot!).toString('hex');
  assert.equal(t.pieceLayers?.get(root)?.length, 96);
});

test('v2 single file: tree of one file named like the torrent', () => {
  const t = parseTorrent(v2Built([{ path: ['w.gguf'], length: 5 }], { name: 'w.gguf' }).bytes());
  assert.equal(t.singleFile, true);
  assert.deepEqual(t.files[0].path, ['w.gguf']);
  const multi = parseTorrent(v2Built([{ path: ['other'], length: 5 }], { name: 'w.gguf' }).bytes());
  assert.equal(multi.singleFile, false);
});

test('hybrid: v1 files with pad files, pieces roots attached, both infohashes', () => {
  const built = v2Built(
    [
      { path: ['a'], length: 100 },
      { path: ['b'], length: 16384 },
      { path: ['c'], length: 20000 },
    ],
    { hybrid: true },
  );
  const t = parseTorrent(built.bytes());
  assert.equal(t.version, 'hybrid');
  assert.ok(t.infoHashV1 && t.infoHashV2);
  assert.deepEqual(
    t.files.map((f) => [f.path.join('/'), f.length, f.offset, f.pad, !!f.piecesRoot]),
    [
      ['a', 100, 0, false, true],
      ['.pad/16284', 16284, 100, true, false],
      ['b', 16384, 16384, false, true],
      ['c', 20000, 32768, false, true],
      ['.pad/12768', 12768, 52768, true, false],
    ],
  );
  assert.equal(t.length, 36484);
  assert.equal(t.pieceCount, 4);
});

test('hybrid without a pad after the last file is accepted (other creators)', () => {
  const built = v2Built([{ path: ['a'], length: 100 }], { hybrid: true });
  built.dict.info.files.pop();
  const t = parseTorrent(built.bytes());
  assert.equal(t.files.length, 1);
});

test('hybrid single file: v1 length and a one-file tree', () => {
  const built = v2Built([{ path: ['m.bin'], length: 30000 }], { name: 'm.bin' });
  built.dict.info.length = 30000;
  built.dict.info.pieces = new Uint8Array(40);
  const t = parseTorrent(built.bytes());
  assert.equal(t.version, 'hybrid');
  assert.equal(t.singleFile, true);
  assert.ok(t.files[0].piecesRoot);
});

// ----- each structural rule -----

test('not a torrent / malformed bencode', () => {
  refused(new Uint8Array(), /the file is empty/);
  refused(b('l4:spame'), /does not start with a bencoded dictionary/);
  refused(b('d4:infod4:name'), /truncated/);
  refused(b('d3:fooi1ee'), /no info dictionary/);
  refused(b('d4:infoi1ee'), /"info" must be a dictionary/);
  refused(Buffer.concat([enc(v1SingleDict(1)), b('x')]), /trailing bytes/);
  refused(b('d4:infod6:lengthi01eee'), /leading zero/);
  refused(b('d4:infod6:lengthi-0eee'), /negative zero/);
  refused(b('d4:infod6:lengthi1e6:lengthi2eee'), /duplicate dictionary key "length"/);
  refused(b('d4:infod6:lengthi99999999999999999999eee'), /integer too large/);
  refused(b('d4:infod4:name99:xee'), /runs past the end/);
  refused(b('d4:infodi1ei2eee'), /key is not a string/);
  refused(b('d4:infod6:lengthi1xeee'), /bad character in integer/);
});

test('decodeStrict: nesting depth is bounded (no stack overflow)', () => {
  const deep = b('l'.repeat(100000) + 'e'.repeat(100000));
  assert.throws(() => decodeStrict(deep), /nested deeper than 200/);
});

test('size limit', () => {
  refused(new Uint8Array(MAX_TORRENT_BYTES + 1), /larger than 64 MiB/);
});

test('v1 rules: name, piece length, pieces, lengths, files', () => {
  const mk = (f: (d: any) => void) => {
    const d = v1Dict([{ path: ['a'], length: 100 }]);
    f(d);
    return enc(d);
  };
  refused(
    mk((d) => delete d.info.name),
    /"name" must be a string, is missing/,
  );
  refused(
    mk((d) => (d.info.name = 5)),
    /"name" must be a string, is an integer/,
  );
  refused(
    mk((d) => (d.info.name = Buffer.from([0xff]))),
    /torrent name is not valid UTF-8/,
  );
  refused(
    mk((d) => (d.info['piece length'] = 0)),
    /piece length must be positive/,
  );
  refused(
    mk((d) => delete d.info['piece length']),
    /"piece length" must be an integer/,
  );
  refused(
    mk((d) => (d.info.pieces = new Uint8Array(21))),
    /not a multiple of 20/,
  );
  refused(
    mk((d) => (d.info.pieces = new Uint8Array(40))),
    /holds 2 hashes but 100 bytes at piece length 16384 need 1/,
  );
  refused(
    mk((d) => delete d.info.pieces),
    /neither "pieces"|"pieces" must be a string/,
  );
  refused(
    mk((d) => (d.info.files = [])),
    /"files" is empty/,
  );
  refused(
    mk((d) => (d.info.files[0].length = -5)),
    /negative length -5/,
  );
  refused(
    mk((d) => (d.info.files[0].path = b('a'))),
    /"path" must be a list/,
  );
  refused(
    mk((d) => (d.info.files[0].path = [5])),
    /path element 0 must be a string/,
  );
  refused(
    mk((d) => (d.info.files[0] = b('x'))),
    /files\[0\] must be a dictionary/,
  );
  refused(
    mk((d) => (d.info.length = 100)),
    /both "length" and "files"/,
  );
  refused(
    mk((d) => (d.info.files[0].length = 0)),
    /holds no data/,
  );
});

test('a malformed optional key outside info is ignored with a warning, not a refusal (issue 14 item 4)', () => {
  const mk = (f: (d: any) => void) => {
    const d = v1Dict([{ path: ['a'], length: 100 }]);
    d.announce = b('http://good/announce');
    f(d);
    return parseTorrent(enc(d));
  };
  const cases: [(d: any) => void, RegExp][] = [
    [(d) => (d['announce-list'] = b('http://x/announce')), /ignored "announce-list": it must be a list, is a string/],
    [(d) => (d['announce-list'] = 7), /ignored "announce-list": it must be a list, is an integer/],
    [(d) => (d['announce-list'] = [b('x')]), /tier/],
    [
      (d) => (d['url-list'] = [[b('http://nested/')]]),
      /ignored an entry of "url-list": it must be a string, is a list/,
    ],
    [(d) => (d['url-list'] = 5), /ignored "url-list"/],
    [(d) => (d.comment = 42), /ignored "comment": it must be a string, is an integer/],
    [(d) => (d['created by'] = [b('x')]), /ignored "created by"/],
    [(d) => (d['creation date'] = b('yesterday')), /ignored "creation date": it must be an integer/],
  ];
  for (const [f, re] of cases) {
    const t = mk(f);
    assert.equal(t.warnings.length, 1, `one warning: ${t.warnings.join(' | ')}`);
    assert.match(t.warnings[0], re);
    assert.equal(t.name.length > 0, true);
  }
  // The announce key still serves when announce-list is unusable; the infohash does not move.
  const plain = mk(() => {});
  const bad = mk((d) => (d['announce-list'] = 7));
  assert.deepEqual(bad.announce, [['http://good/announce']]);
  assert.equal(bad.infoHashV1, plain.infoHashV1);
  assert.deepEqual(plain.warnings, []);
  // A bad announce is ignored too; nothing inside info is relaxed.
  assert.deepEqual(mk((d) => (d.announce = 5)).announce, []);
  refused(
    enc({
      ...v1Dict([{ path: ['a'], length: 100 }]),
      info: { ...v1Dict([{ path: ['a'], length: 100 }]).info, private: b('x') },
    }),
    /"private" must be an integer/,
  );
});

test('v1 prefers path.utf-8 and name.utf-8 when present', () => {
  const d = v1Dict([{ path: ['a'], length: 100 }]);
  d.info.files[0]['path.utf-8'] = [b('ü')];
  d.info['name.utf-8'] = b('nämé');
  const t = parseTorrent(enc(d));
  assert.deepEqual(t.files[0].path, ['ü']);
  assert.equal(t.name, 'nämé');
});

test('v2 rules: meta version, piece length, file tree shape, pieces root, piece layers', () => {
  const mk = (f: (x: ReturnType<typeof v2Built>) => void) => {
    const x = v2Built([
      { path: ['a'], length: 40000 },
      { path: ['d', 'b'], length: 10 },
    ]);
    f(x);
    return x.bytes();
  };
  refused(
    mk((x) => (x.dict.info['meta version'] = 3)),
    /unsupported meta version 3/,
  );
  refused(
    mk((x) => delete x.dict.info['meta version']),
    /unsupported meta version \(missing\)/,
  );
  refused(
    mk((x) => delete x.dict.info['file tree']),
    /without "file tree"/,
  );
  refused(
    mk((x) => (x.dict.info['piece length'] = 8192)),
    /power of two of at least 16 KiB, is 8192/,
  );
  refused(
    mk((x) => (x.dict.info['piece length'] = 49152)),
    /power of two/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'].a[''].length = -1)),
    /negative length/,
  );
  refused(
    mk((x) => delete x.dict.info['file tree'].a[''].length),
    /"length" must be an integer/,
  );
  refused(
    mk((x) => delete x.dict.info['file tree'].d.b['']['pieces root']),
    /"pieces root" is missing/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'].d.b['']['pieces root'] = new Uint8Array(31))),
    /31 bytes, not 32/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'].d = {})),
    /empty folder "d"/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'].d = b('x'))),
    /"d" must be a dictionary/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'].d.b.c = { '': { length: 1 } })),
    /"d\/b" is both a file and a folder/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'].d[''] = { length: 1 })),
    /"d" is both a file and a folder/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'].a[''] = 5)),
    /file entry must be a dictionary/,
  );
  refused(
    mk((x) => (x.layers.length = 0)),
    /piece layers for "a" are missing: a v2-only torrent cannot be checked without them/,
  );
  refused(
    mk((x) => (x.layers[0][1] = new Uint8Array(64))),
    /piece layers for "a" are 64 bytes, 40000 bytes need 96/,
  );
  refused(
    mk((x) => (x.dict.info['file tree'] = {})),
    /empty folder|holds no files/,
  );
  refused(
    mk((x) => (x.layers[0][1] = new Uint8Array(96).fill(9))),
    /piece layers for "a" do not hash to its pieces root/,
  );
});

test('v2 file tree names must be valid UTF-8', () => {
  const x = v2Built([{ path: ['a'], length: 10 }]);
  const bytes = Buffer.from(x.bytes());
  // Replace the key "a" (1:a) inside the file tree with a lone 0xff byte.
  const at = bytes.indexOf(b('9:file treed1:a'));
  bytes[at + 14] = 0xff;
  refused(bytes, /file tree name under "" is not valid UTF-8/);
});

test('hybrid rules: v1 files must mirror the file tree with exact pad files', () => {
  const files = [
    { path: ['a'], length: 100 },
    { path: ['b'], length: 20000 },
  ];
  const mk = (f: (x: ReturnType<typeof v2Built>) => void) => {
    const x = v2Built(files, { hybrid: true });
    f(x);
    return x.bytes();
  };
  assert.equal(parseTorrent(mk(() => {})).version, 'hybrid');
  refused(
    mk((x) => (x.dict.info.files[1].length = 100)),
    /pad file at files\[1\] is 100 bytes, 16284 expected/,
  );
  refused(
    mk((x) => x.dict.info.files.splice(1, 1)),
    /"a" is not padded to a piece boundary|holds/,
  );
  refused(
    mk((x) => (x.dict.info.files[2].path = [b('c')])),
    /v1 file "c" where the v2 file tree has "b"/,
  );
  refused(
    mk((x) => x.dict.info.files.splice(2, 2)),
    /v2 file tree has 2 files, v1 has 1|holds/,
  );
  refused(
    mk((x) => x.dict.info.files.unshift({ attr: b('p'), length: 16384, path: [b('.pad'), b('16384')] })),
    /unexpected pad file|holds/,
  );
});

test('tolerant mode reads Go Silmaril network torrents: empty name, slash-joined path elements', () => {
  const d = v1Dict([{ path: ['org/model/config.json'], length: 10 }], 4 * 1024 * 1024, '');
  refused(enc(d), /unsafe name: the torrent name is empty/);
  const t = parseTorrent(enc(d), { tolerant: true });
  assert.equal(t.name, '');
  assert.deepEqual(t.files[0].path, ['org', 'model', 'config.json']);
  d.info.files[0].path = [b('../etc/passwd')];
  refused(enc(d), /unsafe path: component ".."/, { tolerant: true });
});

test('piece layers keys are raw bytes (non-UTF-8 keys are not mangled)', () => {
  const x = v2Built([{ path: ['a'], length: 40000 }]);
  const t = parseTorrent(x.bytes());
  const [key, layer] = [...t.pieceLayers!.entries()][0];
  assert.equal(key, Buffer.from(x.layers[0][0]).toString('hex'));
  assert.equal(layer.length, 96);
  // still parses when encodeTorrent is given the layers dict inline
  assert.ok(encodeTorrent(x.dict, x.layers).length > 0);
});

test('hybrid of a folder holding one file named like the folder stays a folder (v1 decides)', () => {
  const t = parseTorrent(v2Built([{ path: ['model'], length: 10 }], { name: 'model', hybrid: true }).bytes());
  assert.equal(t.singleFile, false);
  assert.deepEqual(t.files[0].path, ['model']);
});
