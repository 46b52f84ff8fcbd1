// One state name and one system flag for every view (src/app/views.ts): a finished download is `seeding` like a
// share; the catalog's own torrents are system transfers, flagged or found under <home>/catalogs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activeTransfers, isSystemTransfer, swarmText, transferState } from '../../../src/app/views.js';
import type { TransferView } from '../../../src/app/types.js';

const seed = { kind: 'seed' as const, doneInfo: undefined };
const dl = (verified?: boolean) => ({
  kind: 'download' as const,
  doneInfo: verified === undefined ? undefined : { path: '/x', verified },
});

test('a finished, verified download is seeding, as a share is, whatever the engine status says', () => {
  assert.equal(transferState(seed, { status: 'seeding', progress: 1 }), 'seeding');
  assert.equal(transferState(dl(true), { status: 'seeding', progress: 1 }), 'seeding');
  // Paused and resumed: the engine says downloading again.
  assert.equal(transferState(dl(true), { status: 'downloading', progress: 1 }), 'seeding');
  // Every piece in, the whole-download check still running.
  assert.equal(transferState(dl(), { status: 'seeding', progress: 1 }), 'checking');
  assert.equal(transferState(dl(), { status: 'verifying', progress: 1 }), 'checking');
  assert.equal(transferState(dl(false), { status: 'seeding', progress: 1 }), 'error');
  assert.equal(transferState(dl(), { status: 'downloading', progress: 0.5 }), 'downloading');
  assert.equal(transferState(dl(true), { status: 'paused', progress: 1 }), 'paused');
  assert.equal(transferState(dl(), { status: 'metadata', progress: 0 }), 'metadata');
});

test('system transfers: flagged by the engine, or kept under <home>/catalogs', () => {
  assert.equal(isSystemTransfer({ system: true, contentRoot: '/anywhere', outDir: undefined }), true);
  const home = '/home/u/.silmaril';
  assert.equal(
    isSystemTransfer({ system: false, contentRoot: `${home}/catalogs/ab12/catalog.bin`, outDir: undefined }, home),
    true,
  );
  assert.equal(
    isSystemTransfer({ system: false, contentRoot: undefined, outDir: `${home}/catalogs/ab12` }, home),
    true,
  );
  assert.equal(isSystemTransfer({ system: false, contentRoot: `${home}/models/tiny`, outDir: undefined }, home), false);
  assert.equal(isSystemTransfer({ system: false, contentRoot: `${home}/catalogsX/a`, outDir: undefined }, home), false);
});

test('active transfers leave out system, paused and failed ones', () => {
  const v = (over: Partial<TransferView>) => ({ system: false, state: 'seeding', ...over }) as TransferView;
  assert.equal(
    activeTransfers([
      v({}),
      v({ state: 'downloading' }),
      v({ system: true }),
      v({ system: true }),
      v({ state: 'paused' }),
      v({ state: 'error' }),
    ]),
    2,
  );
});

test('swarm text: counts with when, or "not counted yet"', () => {
  const now = 1_800_000_000_000;
  assert.equal(swarmText({ seeders: 0, leechers: 0, countedAt: null }, now), 'not counted yet');
  assert.equal(swarmText({ seeders: 3, leechers: 0, countedAt: now - 120_000 }, now), '3 seeders · counted 2 min ago');
  assert.equal(
    swarmText({ seeders: 1, leechers: 2, countedAt: now - 1000 }, now),
    '1 seeder · 2 downloaders · counted just now',
  );
});
