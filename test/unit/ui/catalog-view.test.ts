// The Catalog view's words, where `npm test` reaches them: seeders and peers with when they were counted (or that
// they were not), a tooltip with no stray escapes (`text\-generation`), the search box's text kept as typed, the
// system-transfer filter and the bootstrap setting.
import assert from 'node:assert/strict';
import { register } from 'node:module';
import { describe, it } from 'node:test';
import type { CatalogModel } from '../../../src/ui/core.js';
import { transfer } from './fake-core.js';

register('./vscode-hook.mjs', import.meta.url);
const { modelTooltip, escapeMd, CatalogTree, ModelNode } = await import('../../../src/ui/catalog-tree.js');
const { swarmText } = await import('../../../src/ui/format.js');
const { isSystemTransfer, shownTransfers } = await import('../../../src/ui/system.js');
const { bootstrapSetting } = await import('../../../src/ui/settings.js');
const { StatusBar } = await import('../../../src/ui/status-bar.js');

const log = { error() {}, warn() {}, info() {}, debug() {}, trace() {} } as any;

function entry(over: Partial<CatalogModel> & Record<string, unknown> = {}): CatalogModel {
  return {
    name: 'acme/tiny-model',
    publisher: 'ab'.repeat(32),
    fingerprint: 'abababab:abababab',
    license: 'apache-2.0',
    tags: ['text-generation', 'tiny'],
    size: 262144,
    files: 3,
    format: 'safetensors',
    description: 'A tiny model (for tests) - really.',
    v1: '0123456789abcdef0123456789abcdef01234567',
    magnet: 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567',
    seeders: 0,
    source: 'local',
    signed: true,
    ...over,
  } as unknown as CatalogModel;
}

describe('catalog swarm counts', () => {
  it('says "not counted yet" until counted, then the counts and how long ago', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    assert.deepEqual(swarmText({ seeders: 0, leechers: 0, countedAt: null }, now), {
      counts: 'not counted yet',
      when: '',
      counted: false,
    });
    const t = swarmText({ seeders: 1, leechers: 2, countedAt: now - 120_000 }, now);
    assert.equal(t.counts, '1 seeder · 2 peers');
    assert.equal(t.when, 'counted 2 min ago');
    assert.equal(swarmText({ seeders: 0, leechers: 0, countedAt: now - 1000 }, now).counts, '0 seeders');
  });

  it('puts them in the tree item (description and tooltip)', () => {
    const tree = new CatalogTree(
      () => undefined,
      () => [],
      log,
    );
    const never = tree.getTreeItem(new ModelNode(entry({ countedAt: null, leechers: 0 }), 'signed'));
    assert.match(String(never.description), /· not counted yet$/);
    const counted = entry({ seeders: 3, leechers: 1, countedAt: Date.now() - 5 * 60_000 });
    const item = tree.getTreeItem(new ModelNode(counted, 'signed'));
    assert.match(String(item.description), /· 3 seeders · 1 peer$/);
    assert.match((item.tooltip as { value: string }).value, /3 seeders · 1 peer \(counted 5 min ago\)/);
  });
});

describe('catalog tooltip', () => {
  it('shows tags and names without stray backslashes', () => {
    const md = modelTooltip(entry(), 'signed').value;
    assert.ok(md.includes('`text-generation`'), md);
    assert.ok(!md.includes('\\-'), `no escaped hyphen in ${md}`);
    assert.ok(!md.includes('\\.'), `no escaped dot in ${md}`);
    assert.ok(md.includes('apache-2.0'), md);
  });

  it('still escapes what Markdown would act on', () => {
    assert.equal(
      escapeMd('a*b_c [x](javascript:y) <img> `code` #h'),
      'a\\*b\\_c \\[x\\](javascript:y) \\<img\\> \\`code\\` \\#h',
    );
    assert.equal(escapeMd('- list'), '\\- list');
    assert.equal(escapeMd('$(zap) icon'), '\\$(zap) icon');
  });
});

describe('system transfers', () => {
  const catalog = transfer({
    id: 'c'.repeat(40),
    name: 'catalog.bin',
    path: `/home/u/.silmaril/catalogs/${'d'.repeat(40)}/catalog.bin`,
    system: true,
  });
  const model = transfer({ id: 'a'.repeat(40), name: 'tiny', path: '/ws/tiny' });

  it('are recognised by the app flag, or by the catalog path on an older node', () => {
    assert.equal(isSystemTransfer({ ...model, system: true } as any), true);
    assert.equal(isSystemTransfer({ ...catalog, system: false } as any), false);
    assert.equal(isSystemTransfer(catalog), true);
    const older = { ...catalog } as Partial<typeof catalog>;
    delete older.system;
    assert.equal(isSystemTransfer(older as typeof catalog), true, 'a node without the flag: by the catalog path');
    assert.equal(isSystemTransfer(model), false);
  });

  it('are left out of the views and the status bar count unless shown', () => {
    assert.deepEqual(
      shownTransfers([catalog, model], false).map((t) => t.name),
      ['tiny'],
    );
    assert.equal(shownTransfers([catalog, model], true).length, 2);
    const bar = new StatusBar();
    bar.update(shownTransfers([catalog, catalog, model], false), 'running');
    assert.match(bar.item.text, /\$\(arrow-swap\) 1$/);
  });
});

describe('silmaril.dht.bootstrap', () => {
  it('empty (or an old null) means the public nodes, "none" none, anything else exactly those', () => {
    assert.equal(bootstrapSetting([]), undefined);
    assert.equal(bootstrapSetting(null), undefined);
    assert.deepEqual(bootstrapSetting(['none']), []);
    assert.deepEqual(bootstrapSetting([' 127.0.0.1:6881 ', '']), ['127.0.0.1:6881']);
  });
});

describe('Show Details', () => {
  it('names the model once and holds the whole magnet link, escaped', async () => {
    const { detailsHtml } = await import('../../../src/ui/details-panel.js');
    const magnet = `magnet:?xt=urn:btih:${'0'.repeat(40)}&xt=urn:btmh:1220${'1'.repeat(64)}&dn=tiny&tr=http%3A%2F%2F127.0.0.1%3A1%2Fannounce`;
    const html = detailsHtml(entry({ magnet, name: 'acme/<b>tiny</b>' }), 'signed', 'NONCE');
    const body = html.slice(html.indexOf('<body>'));
    assert.equal(body.split('acme/&#60;b&#62;tiny&#60;/b&#62;').length - 1, 1, 'the name once, escaped');
    assert.ok(!body.includes('<b>tiny'), 'no markup from data');
    assert.ok(body.includes(magnet.replace(/&/g, '&#38;')), 'the whole magnet, escaped');
    assert.match(html, /script-src 'nonce-NONCE'/);
    assert.match(body, /<button id="copy"[^>]*>Copy Magnet<\/button>/);
  });
});
