import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { mkdtemp, mkdir, symlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { sanitizePath, sanitizeName, safeJoin, assertRealpathInside } from '../../../src/torrent/paths.js';
import { TorrentError } from '../../../src/torrent/types.js';

const refused = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof TorrentError && re.test(e.message) && !e.message.includes('\n'));

test('ordinary paths pass unchanged, including dots inside names, spaces and non-ASCII', () => {
  assert.deepEqual(sanitizePath(['sub', 'model.safetensors']), ['sub', 'model.safetensors']);
  assert.deepEqual(sanitizePath(['.hidden', '..x', 'a..b', 'héllo wörld', '日本']), [
    '.hidden',
    '..x',
    'a..b',
    'héllo wörld',
    '日本',
  ]);
  assert.deepEqual(sanitizePath(['aux.py'], { platform: 'linux' }), ['aux.py']);
});

test('each hostile component is refused with a one-line error', () => {
  refused(() => sanitizePath(['..']), /unsafe path: component ".."/);
  refused(() => sanitizePath(['a', '..', 'b']), /".."/);
  refused(() => sanitizePath(['.']), /component "."/);
  refused(() => sanitizePath(['']), /empty path component/);
  refused(() => sanitizePath([]), /empty path/);
  refused(() => sanitizePath(['/etc', 'passwd']), /"\/" inside component/);
  refused(() => sanitizePath(['a/../../b']), /"\/" inside component/);
  refused(() => sanitizePath(['a\0b']), /NUL byte/);
  refused(() => sanitizePath(['..\\..\\evil']), /backslash/);
  refused(() => sanitizePath(['C:']), /drive prefix/);
  refused(() => sanitizePath(['c:evil']), /drive prefix/);
  refused(() => sanitizePath(['x'.repeat(256)]), /longer than 255 bytes/);
  refused(() => sanitizePath(Array(129).fill('a')), /more than 128 components/);
  refused(() => sanitizePath(Array(100).fill('y'.repeat(50))), /longer than 4096 bytes/);
  refused(() => sanitizePath([42 as unknown as string]), /not a string/);
});

test('Windows-only rules apply on win32: device names and trailing dots', () => {
  refused(() => sanitizePath(['CON'], { platform: 'win32' }), /Windows device name/);
  refused(() => sanitizePath(['aux.py'], { platform: 'win32' }), /Windows device name/);
  refused(() => sanitizePath(['lpt1.txt'], { platform: 'win32' }), /Windows device name/);
  refused(() => sanitizePath(['name.'], { platform: 'win32' }), /dot or space/);
  refused(() => sanitizePath(['ab:c'], { platform: 'win32' }), /not allowed on Windows/);
  assert.deepEqual(sanitizePath(['CON'], { platform: 'linux' }), ['CON']);
});

test('tolerant mode splits slash-joined elements (Go Silmaril network) and still refuses escapes', () => {
  assert.deepEqual(sanitizePath(['dir/sub/file.bin'], { tolerant: true }), ['dir', 'sub', 'file.bin']);
  refused(() => sanitizePath(['dir/../../x'], { tolerant: true }), /".."/);
  refused(() => sanitizePath(['/etc/passwd'], { tolerant: true }), /empty path component/);
  refused(() => sanitizePath(['a//b'], { tolerant: true }), /empty path component/);
  refused(() => sanitizePath(['dir/sub/file.bin']), /"\/" inside component/);
});

test('names: "..", "/", "" and "." are refused', () => {
  assert.equal(sanitizeName('my-model'), 'my-model');
  refused(() => sanitizeName('..'), /unsafe name/);
  refused(() => sanitizeName('/'), /unsafe name/);
  refused(() => sanitizeName(''), /unsafe name: the torrent name is empty/);
  refused(() => sanitizeName('.'), /unsafe name/);
});

test('safeJoin stays inside the root and refuses what would leave it', () => {
  const root = resolve('/tmp/root');
  assert.equal(safeJoin(root, ['a', 'b.bin']), join(root, 'a', 'b.bin'));
  refused(() => safeJoin(root, ['..', 'x']), /unsafe path/);
  refused(() => safeJoin(root, []), /empty path/);
});

test('assertRealpathInside refuses a folder symlinked out of the root', async () => {
  const base = await mkdtemp(join(tmpdir(), 'silmaril-paths-'));
  try {
    const root = join(base, 'root');
    const outside = join(base, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await symlink(outside, join(root, 'link'));
    await assertRealpathInside(root, join(root, 'ok', 'file'));
    await assert.rejects(assertRealpathInside(root, join(root, 'link', 'file')), /through a link/);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
