// Hostile torrents: each one refused whole with a clear one-line error, and nothing written anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import bencode from 'bencode';
import { parseTorrent } from '../../../src/torrent/parse.js';
import { TorrentError } from '../../../src/torrent/types.js';
import { b, v1Dict, v1SingleDict, v2Built } from './parse-fixtures.js';

const enc = (d: unknown) => bencode.encode(d);
const multi = (paths: string[][], name = 'model') =>
  enc(
    v1Dict(
      paths.map((path) => ({ path, length: 10 })),
      16384,
      name,
    ),
  );
const tree = (t: any) => {
  const x = v2Built([{ path: ['ok'], length: 10 }]);
  x.dict.info['file tree'] = t;
  return x.bytes();
};
const leaf = { '': { length: 10, 'pieces root': new Uint8Array(32).fill(7) } };

function manyFiles(n: number): Uint8Array {
  const entry = 'd6:lengthi1e4:pathl1:aee';
  return Buffer.from(
    `d4:infod5:filesl${entry.repeat(n)}e4:name5:model12:piece lengthi16384e6:pieces20:${'x'.repeat(20)}ee`,
  );
}

const corpus: [string, Uint8Array, RegExp][] = [
  ['".." component', multi([['..', 'etc', 'passwd']]), /files\[0\]: unsafe path: component "\.\."/],
  ['".." deeper', multi([['a', '..', '..', 'x']]), /unsafe path: component "\.\."/],
  ['"." component', multi([['.', 'x']]), /unsafe path: component "\."/],
  ['absolute path in one element', multi([['/etc/passwd']]), /"\/" inside component/],
  ['absolute path as empty first element', multi([['', 'etc', 'passwd']]), /empty path component/],
  ['empty component', multi([['a', '', 'b']]), /empty path component/],
  ['empty path list', multi([[]]), /empty path/],
  ['NUL byte', multi([['a\0.bin']]), /NUL byte/],
  ['backslash traversal', multi([['..\\..\\evil']]), /backslash/],
  ['windows absolute with backslash', multi([['C:\\Windows', 'x']]), /backslash|drive prefix/],
  ['drive letter', multi([['C:', 'x']]), /drive prefix/],
  ['name ".."', multi([['x']], '..'), /unsafe name: component "\.\."/],
  ['name "/"', multi([['x']], '/'), /unsafe name: "\/" inside component/],
  ['name ""', multi([['x']], ''), /unsafe name: the torrent name is empty/],
  ['name "."', multi([['x']], '.'), /unsafe name/],
  ['name with slash', multi([['x']], 'a/../..'), /unsafe name/],
  ['single-file name ".."', enc(v1SingleDict(10, 16384, '..')), /unsafe name/],
  ['single-file name absolute', enc(v1SingleDict(10, 16384, '/etc/passwd')), /unsafe name/],
  [
    'path.utf-8 hostile while path is safe',
    (() => {
      const d = v1Dict([{ path: ['safe'], length: 10 }]);
      d.info.files[0]['path.utf-8'] = [b('..'), b('x')];
      return enc(d);
    })(),
    /unsafe path: component "\.\."/,
  ],
  ['v2 tree key ".."', tree({ '..': { x: leaf } }), /file tree "\.\.": unsafe path/],
  ['v2 tree key with slash', tree({ 'a/../../b': leaf }), /"\/" inside component/],
  ['v2 tree key with NUL', tree({ 'a\0': leaf }), /NUL byte/],
  ['v2 tree empty key at the top', tree({ '': { length: 10 } }), /a file entry sits beside other names/],
  [
    'v2 tree file and folder at once',
    tree({ a: { '': { length: 10, 'pieces root': new Uint8Array(32) }, b: leaf } }),
    /"a" is both a file and a folder/,
  ],
  [
    'huge length beyond 2^53',
    Buffer.from(`d4:infod6:lengthi${'9'.repeat(17)}e4:name1:x12:piece lengthi16384e6:pieces0:ee`),
    /integer too large/,
  ],
  [
    'huge length with too few pieces',
    (() => {
      const d = v1SingleDict(10);
      d.info.length = 2 ** 50;
      return enc(d);
    })(),
    /need/,
  ],
  [
    'negative length',
    (() => {
      const d = v1Dict([
        { path: ['a'], length: 20 },
        { path: ['b'], length: 10 },
      ]);
      d.info.files[1].length = -10;
      return enc(d);
    })(),
    /negative length -10/,
  ],
  [
    'negative piece length',
    (() => {
      const d = v1SingleDict(10);
      d.info['piece length'] = -16384;
      return enc(d);
    })(),
    /piece length must be positive/,
  ],
  [
    'pieces mismatch',
    (() => {
      const d = v1SingleDict(100000);
      d.info.pieces = new Uint8Array(20);
      return enc(d);
    })(),
    /"pieces" holds 1 hashes but 100000 bytes/,
  ],
  ['deep nesting', Buffer.from(`d4:info${'l'.repeat(5000)}${'e'.repeat(5000)}e`), /nested deeper than 200 levels/],
  ['deep path', multi([Array(300).fill('d')]), /more than 128 components/],
  ['duplicate paths', multi([['a'], ['a']]), /duplicate file path "a"/],
  ['file then folder of the same name', multi([['a'], ['a', 'b']]), /"a" is both a file and a folder/],
  ['folder then file of the same name', multi([['a', 'b'], ['a']]), /"a" is both a file and a folder/],
  ['too many files', manyFiles(1_000_001), /more than 1000000 files/],
  ['truncated', enc(v1SingleDict(10)).subarray(0, 30), /truncated/],
  ['duplicate info key', Buffer.from('d4:infod4:name1:xe4:infod4:name1:yee'), /duplicate dictionary key "info"/],
];

for (const [label, bytes, re] of corpus) {
  test(`refused: ${label}`, () => {
    assert.throws(
      () => parseTorrent(bytes),
      (e: unknown) => {
        assert.ok(e instanceof TorrentError, `TorrentError expected, got ${String(e)}`);
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n') && e.message.length < 300, `one short line: ${e.message}`);
        return true;
      },
    );
  });
}

test('the command line refuses hostile torrents with one line on stderr and writes nothing', async () => {
  const base = await mkdtemp(join(tmpdir(), 'silmaril-hostile-'));
  try {
    const target = join(base, 'target');
    await mkdir(target);
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const cases = corpus.filter(([l]) => ['".." component', 'name ".."', 'v2 tree key ".."'].includes(l));
    for (const [label, bytes] of cases) {
      const file = join(base, 'bad.torrent');
      await writeFile(file, bytes);
      for (const args of [
        ['info', file],
        ['verify', file, target],
      ]) {
        const r = spawnSync(
          process.execPath,
          ['--import', 'tsx', '--import', './build/register.mjs', 'src/cli.ts', ...args],
          {
            cwd: root,
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        assert.equal(r.status, 1, `${label} ${args[0]}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], /^silmaril \w+: .*bad\.torrent: .*unsafe (path|name)/);
      }
    }
    assert.deepEqual(await readdir(target), []);
    assert.deepEqual((await readdir(base)).sort(), ['bad.torrent', 'target']);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
