// The client matrix (issue 14): every installed BitTorrent client from Debian against `silmaril seed`, `silmaril
// get` and `silmaril tracker`, both ways, by .torrent (announcing over HTTP) and by magnet (over UDP). Each client
// runs on its own loopback ports with a throwaway home, all clients in parallel, scenarios one after another per
// client, each scenario on its own model (its own swarm). The matrix is printed at the end (and written to
// $SILMARIL_MATRIX_OUT when set). In CI a missing client fails the run; elsewhere its rows say "not installed".
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killAll } from '../../integration/engine-helpers.js';
import {
  aria2,
  libtorrent,
  libtorrentAvailable,
  qbittorrent,
  rtorrent,
  transmission,
  type ClientDriver,
  type How,
} from './drivers.js';
import {
  holds,
  makeModel,
  makeTorrent,
  printMatrix,
  register,
  seeders,
  silmarilGet,
  silmarilSeed,
  startTracker,
  until,
  which,
  type Cell,
  type Direction,
  type Method,
} from './harness.js';

const CI = process.env.CI === 'true';
const SCENARIO_MS = 90_000;

interface Scenario {
  direction: Direction;
  how: How;
}
const SCENARIOS: Scenario[] = [
  { direction: 'client ← silmaril seed', how: 'torrent' },
  { direction: 'client ← silmaril seed', how: 'magnet' },
  { direction: 'silmaril get ← client', how: 'torrent' },
  { direction: 'silmaril get ← client', how: 'magnet' },
];
const methodOf = (how: How): Method => (how === 'torrent' ? '.torrent (HTTP tracker)' : 'magnet (UDP tracker)');

function available(d: ClientDriver): boolean {
  return d.name.startsWith('libtorrent') ? libtorrentAvailable() : which(d.program);
}

/** Runs every scenario for one client; never throws (each outcome is a cell). */
async function runClient(d: ClientDriver, root: string): Promise<Cell[]> {
  const cells: Cell[] = [];
  const cell = (s: Scenario, result: Cell['result'], note: string) =>
    cells.push({ client: d.name, direction: s.direction, method: methodOf(s.how), result, note });
  if (!available(d)) {
    for (const s of SCENARIOS) cell(s, CI ? 'fail' : 'n.a.', `${d.program} is not installed`);
    return cells;
  }
  const dir = await mkdtemp(path.join(root, d.program.replace(/\W/g, '') + '-'));
  let tracker;
  try {
    tracker = await startTracker(path.join(dir, 'tracker-home'));
    await d.start(path.join(dir, 'client'));
  } catch (err) {
    for (const s of SCENARIOS) cell(s, 'fail', `could not start: ${(err as Error).message}`);
    await d.stop().catch(() => {});
    tracker?.proc.kill('SIGKILL');
    return cells;
  }
  for (const [i, s] of SCENARIOS.entries()) {
    const started = Date.now();
    const work = path.join(dir, `s${i}`);
    const procs: { kill(sig?: NodeJS.Signals): void }[] = [];
    try {
      // Its own model, so its own swarm: nothing left from an earlier scenario can serve this one.
      const model = await makeModel(path.join(work, 'source'), `model-${d.program.replace(/\W/g, '')}-${i}`);
      const t = await makeTorrent(model, path.join(work, 'model.torrent'), !d.hybrids, tracker);
      await register(tracker, t.created);
      const failed = () => {
        if (d.errors.length) throw new Error(d.errors.join('; '));
      };
      if (s.direction === 'client ← silmaril seed') {
        procs.push(await silmarilSeed(model, t, tracker, path.join(work, 'seed-home')));
        await until(
          async () => (await seeders(tracker, t.created.infoHashV1)) >= 1,
          'silmaril seed on the tracker',
          20_000,
        );
        const out = path.join(work, 'client-out');
        await d.download(t, s.how, out);
        await until(
          async () => {
            failed();
            return holds(out, model.expected);
          },
          `${d.name} to download the model`,
          SCENARIO_MS,
        );
      } else {
        // The client seeds its own copy of the model.
        const copy = await makeModelCopy(model, path.join(work, 'client-seed'));
        await d.seed(t, copy);
        await until(
          async () => {
            failed();
            return (await seeders(tracker, t.created.infoHashV1)) >= 1;
          },
          `${d.name} seeding on the tracker`,
          30_000,
        );
        const out = path.join(work, 'silmaril-out');
        procs.push(
          await silmarilGet(s.how === 'torrent' ? t.file : t.magnet, out, path.join(work, 'get-home'), SCENARIO_MS),
        );
        if (!(await holds(out, model.expected))) throw new Error('silmaril get finished but the files differ');
      }
      cell(s, 'ok', `${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      cell(s, 'fail', (err as Error).message.split('\n')[0]!);
    } finally {
      for (const p of procs) p.kill('SIGTERM');
      await d.reset().catch(() => {});
      d.errors.length = 0;
    }
  }
  await d.stop().catch(() => {});
  tracker.proc.kill('SIGTERM');
  await tracker.proc.exited;
  return cells;
}

async function makeModelCopy(model: Awaited<ReturnType<typeof makeModel>>, parent: string) {
  const { cp } = await import('node:fs/promises');
  await cp(path.join(model.parent, model.name), path.join(parent, model.name), { recursive: true });
  return { ...model, parent };
}

describe('client matrix', () => {
  let root = '';
  after(async () => {
    killAll();
    // SILMARIL_MATRIX_KEEP=1 leaves the clients' folders and logs for a look.
    if (root && !process.env.SILMARIL_MATRIX_KEEP) await rm(root, { recursive: true, force: true }).catch(() => {});
  });

  it('every installed client works with silmaril both ways, by .torrent and magnet, through its tracker', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'silmaril-matrix-'));
    // SILMARIL_MATRIX_ONLY=aria2,rtorrent runs those clients only (when debugging one).
    const only = process.env.SILMARIL_MATRIX_ONLY?.split(',');
    const drivers = [qbittorrent(), transmission(), aria2(), rtorrent(), libtorrent()].filter(
      (d) => !only || only.some((o) => d.name.toLowerCase().includes(o.toLowerCase())),
    );
    const results = (await Promise.all(drivers.map((d) => runClient(d, root)))).flat();
    // libtorrent as a v2-only peer (btmh-only magnets, truncated-v2 handshakes, hash requests) runs in its own suite.
    for (const direction of ['client ← silmaril seed', 'silmaril get ← client'] as const) {
      results.push({
        client: 'libtorrent 2.0.8',
        direction,
        method: 'btmh-only magnet (v2 peer)',
        result: 'n.a.',
        note: 'both ways in test/interop/libtorrent-v2.test.ts',
      });
    }
    const table = printMatrix(results);
    process.stdout.write(table);
    if (process.env.SILMARIL_MATRIX_OUT) await writeFile(process.env.SILMARIL_MATRIX_OUT, table);
    const failed = results.filter((c) => c.result === 'fail');
    assert.deepEqual(
      failed.map((c) => `${c.client} | ${c.direction} | ${c.method}: ${c.note}`),
      [],
      'every cell a client supports works',
    );
  });
});
