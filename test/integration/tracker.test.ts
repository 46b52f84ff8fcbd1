// The bundled `silmaril tracker` as a separate process: registration from `silmaril create --tracker`,
// durability of a registration across kill -9 right after its 201, clean stop on SIGTERM.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { getJson, makeHybrid, registration, tempDir } from '../unit/tracker/helpers.js';
import { cli, root, startTracker, stopTracker, type RunningTracker } from './tracker-cli.js';

const KEY = 'integration-key';

describe('silmaril tracker (bundled CLI)', () => {
  const dir = tempDir('silmaril-trk-int-');
  const running: RunningTracker[] = [];
  after(async () => {
    for (const t of running) await stopTracker(t, 'SIGKILL');
  });

  it('a registration survives kill -9 of the tracker right after its 201', async () => {
    const db = join(dir, 'durable.db');
    const first = await startTracker(['--db', db, '--registry-key', KEY]);
    running.push(first);
    const h = await makeHybrid('durable');
    const res = await fetch(`${first.url}/api/registry`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Weightless-Key': KEY },
      body: JSON.stringify(registration(h)),
    });
    assert.equal(res.status, 201);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    assert.equal(first.child.signalCode, 'SIGKILL');

    const second = await startTracker(['--db', db, '--registry-key', KEY]);
    running.push(second);
    const entry = await getJson(`${second.url}/api/registry?info_hash=${h.v1}`);
    assert.equal(entry.info_hash, h.v2);
    assert.equal(entry.verified, true);
    const torrent = await fetch(`${second.url}/api/registry/torrent?info_hash=${h.v2}`);
    assert.deepEqual(new Uint8Array(await torrent.arrayBuffer()), new Uint8Array(h.torrent));
    assert.equal(await stopTracker(second), 0, 'SIGTERM stops it cleanly');
  });

  it('silmaril create --tracker registers the new torrent (key from --api-key); a wrong key is refused', async () => {
    const t = await startTracker(['--db', join(dir, 'create.db'), '--registry-key', KEY]);
    running.push(t);
    const h = await makeHybrid('created');
    const run = (args: string[]) =>
      spawnSync(process.execPath, [cli, 'create', h.dir, '--tracker', t.announce, '--json', ...args], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, SILMARIL_REGISTRY_KEY: '' },
      });
    const wrong = run(['--api-key', 'nope', '--out', join(dir, 'wrong.torrent')]);
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.match(wrong.stderr, /could not register .*401/);
    const ok = run(['--api-key', KEY, '--out', join(dir, 'ok.torrent')]);
    assert.equal(ok.status, 0, ok.stderr);
    const created = JSON.parse(ok.stdout.trim());
    assert.match(ok.stderr, /registered with/);
    const entry = await getJson(`${t.url}/api/registry?info_hash=${created.v2}`);
    assert.equal(entry.v1_info_hash, created.v1);
    assert.equal(entry.name, created.name);
    await stopTracker(t);
  });

  it('bad flags are usage errors (exit 2)', () => {
    const r = spawnSync(process.execPath, [cli, 'tracker', '--port', 'x'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--port must be a whole number/);
  });
});
