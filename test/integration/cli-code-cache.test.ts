// The `silmaril` launcher (src/cli-launch.ts, dist/cli.js) runs the bundle from a V8 code cache in the user's cache
// folder. What a user relies on: the command behaves the same with a cache, without one, with a damaged one or an
// unwritable folder; the cache is private to the user; SILMARIL_CODE_CACHE=0 leaves nothing behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './engine-helpers.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'silmaril-code-cache-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, SILMARIL_CODE_CACHE_DEBUG: '1', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const cache = /code cache (none|used|rejected|off)/.exec(r.stderr)?.[1];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, cache };
}

const cacheDir = (home: string) => path.join(home, 'silmaril', 'v8');

test('a first run writes the cache (private to the user), the next one uses it, with the same output', () => {
  const home = path.join(tmp, 'a');
  const first = run(['--version'], { XDG_CACHE_HOME: home });
  assert.equal(first.status, 0);
  assert.equal(first.cache, 'none');
  const files = readdirSync(cacheDir(home));
  assert.equal(files.length, 1, `${files}`);
  assert.equal(statSync(cacheDir(home)).mode & 0o777, 0o700);
  assert.equal(statSync(path.join(cacheDir(home), files[0])).mode & 0o777, 0o600);
  const second = run(['--version'], { XDG_CACHE_HOME: home });
  assert.equal(second.cache, 'used');
  assert.equal(second.stdout, first.stdout);
  // `get` runs with other V8 flags (cli/jit.ts): a cache of its own.
  const help = run(['get', '--help'], { XDG_CACHE_HOME: home });
  assert.equal(help.status, 0);
  assert.equal(readdirSync(cacheDir(home)).length, 2);
});

test('a damaged cache is rejected, the command still works, and a good cache replaces it', () => {
  const home = path.join(tmp, 'b');
  run(['--version'], { XDG_CACHE_HOME: home });
  const file = path.join(cacheDir(home), readdirSync(cacheDir(home))[0]);
  const junk = Buffer.alloc(statSync(file).size, 0x5a);
  writeFileSync(file, junk);
  const r = run(['--version'], { XDG_CACHE_HOME: home });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^silmaril \d/);
  assert.equal(r.cache, 'rejected');
  assert.ok(!readFileSync(file).equals(junk), 'rewritten');
  assert.equal(run(['--version'], { XDG_CACHE_HOME: home }).cache, 'used');
});

test('an unwritable cache folder, or SILMARIL_CODE_CACHE=0: the command works and nothing is written', () => {
  const blocked = path.join(tmp, 'not-a-folder');
  writeFileSync(blocked, 'x');
  const r = run(['info', '--help'], { XDG_CACHE_HOME: blocked });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /usage: silmaril info/);
  const home = path.join(tmp, 'c');
  const off = run(['--version'], { XDG_CACHE_HOME: home, SILMARIL_CODE_CACHE: '0' });
  assert.equal(off.status, 0);
  assert.equal(off.cache, 'off');
  assert.throws(() => readdirSync(home), /ENOENT/);
});
