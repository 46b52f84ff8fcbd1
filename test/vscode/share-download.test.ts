// The whole path a user takes, through the extension's commands against the real core: share a workspace folder and
// see it seeding in Local Models and listed in the Catalog; download a model served by a second, headless node
// (`node dist/cli.js seed`) into the workspace, see the Transfers view reach 100% verified, verify it again, export
// its .torrent, stop sharing.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import * as vscode from 'vscode';
import type { SilmarilApi } from '../../src/extension.js';
import { ModelNode, OrgNode } from '../../src/ui/catalog-tree.js';
import type { ShareResult, TrackerStatus, TransferView, VerifyResult } from '../../src/ui/core.js';
import { api, cli, type CliNode, readTree, testTmp, waitFor, writeModel } from './helpers.js';

describe('share and download through the commands', function () {
  this.timeout(180_000);
  let a: SilmarilApi;
  let workspace: string;
  let headless: CliNode | undefined;
  let shared: ShareResult;

  before(async () => {
    a = await api();
    workspace = vscode.workspace.workspaceFolders![0].uri.fsPath;
  });

  after(async () => {
    await headless?.stop();
  });

  it('lists the workspace model in Local Models as not shared', async () => {
    await a.controller.local.rescan();
    const nodes = a.controller.local.getChildren();
    const tiny = nodes.find((n) => n.path === join(workspace, 'tiny-model'));
    assert.ok(tiny, `tiny-model is listed (got ${nodes.map((n) => n.path).join(', ')})`);
    assert.equal(tiny.state, 'notShared');
    assert.equal(a.controller.local.getTreeItem(tiny).contextValue, 'localModel.notShared');
  });

  it('Share Folder seeds the folder, shows it seeding and publishes it to the catalog', async () => {
    const folder = join(workspace, 'tiny-model');
    const result = await vscode.commands.executeCommand<ShareResult>('silmaril.shareFolder', vscode.Uri.file(folder), {
      name: 'vscode-test/tiny-model',
      license: 'apache-2.0',
      tags: ['tiny', 'test'],
      quiet: true,
    });
    assert.ok(result, 'the command returned a share');
    shared = result;
    assert.match(result.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}/);
    assert.match(result.magnet, /urn:btmh:1220[0-9a-f]{64}/, 'hybrid: the magnet carries the v2 hash too');
    assert.equal(result.published, true);
    const node = await waitFor('tiny-model seeding in Local Models', () =>
      a.controller.local.getChildren().find((n) => n.path === folder && n.state === 'seeding'),
    );
    assert.equal(node.transfer!.id, result.v1);
    assert.equal(a.controller.local.getTreeItem(node).contextValue, 'localModel.seeding');
    assert.ok(!existsSync(join(folder, '.pad')), 'nothing is written into the shared folder');

    await a.controller.catalog.reload();
    const orgs = a.controller.catalog.getChildren() as OrgNode[];
    const org = orgs.find((o) => o.org === 'vscode-test');
    assert.ok(org, `the catalog groups the model under its organisation (got ${orgs.map((o) => o.org).join(', ')})`);
    const models = a.controller.catalog.getChildren(org) as ModelNode[];
    const entry = models.find((m) => m.model.name === 'vscode-test/tiny-model');
    assert.ok(entry);
    assert.equal(entry.model.v1, result.v1);
    assert.equal(entry.model.license, 'apache-2.0');
    const item = a.controller.catalog.getTreeItem(entry);
    assert.equal(item.contextValue, 'catalogModel');
    assert.match(String(item.description), /apache-2\.0 · .*KiB · safetensors/);

    const uri = await vscode.commands.executeCommand<string>('silmaril.showDetails', entry);
    const page = (await vscode.workspace.openTextDocument(vscode.Uri.parse(uri!))).getText();
    assert.match(page, /^# vscode-test\/tiny-model/);
    assert.ok(page.includes(result.v1) && page.includes(result.v2!), 'Show Details names both infohashes');
    assert.match(page, /apache\\?-2\\?\.0/, 'and the license');
  });

  it('the status bar sums the transfers; a click opens Transfers', () => {
    const item = a.controller.status.item;
    assert.match(item.text, /^\$\(arrow-up\) .*\/s \$\(arrow-down\) .*\/s \$\(arrow-swap\) \d+$/);
    assert.equal(item.command, 'silmaril.showTransfers');
  });

  it('Search Catalog filters the tree, Clear Search restores it', async () => {
    await vscode.commands.executeCommand('silmaril.searchCatalog', 'nothing-matches-this-xyz');
    assert.equal(a.controller.catalog.getChildren().length, 0);
    await vscode.commands.executeCommand('silmaril.searchCatalog', 'tiny license:apache-2.0');
    assert.ok(a.controller.catalog.all.some((m) => m.name === 'vscode-test/tiny-model'));
    await vscode.commands.executeCommand('silmaril.clearSearch');
    assert.deepEqual(a.controller.catalog.filter, {});
  });

  it('Download of bytes already here says so and copies them, verified, where asked (Copy into Workspace)', async () => {
    const entry = a.controller.catalog.all.find((m) => m.name === 'vscode-test/tiny-model');
    assert.ok(entry, 'our share is in the catalog');
    const dest = join(testTmp(), 'copy-dest');
    const t = await vscode.commands.executeCommand<TransferView & { status?: string }>(
      'silmaril.downloadIntoWorkspace',
      entry,
      { folder: dest, confirm: false, present: 'Copy into Workspace' },
    );
    assert.equal(t?.status, 'present', 'the node knows it holds these bytes');
    assert.equal(t.path, join(workspace, 'tiny-model'), 'and says where they are');
    const copied = await waitFor('the copy to land', () => existsSync(join(dest, 'tiny-model', 'config.json')));
    assert.ok(copied);
    const want = readTree(join(workspace, 'tiny-model'));
    const got = readTree(join(dest, 'tiny-model'));
    for (const [k, v] of want) assert.ok(got.get(k)?.equals(v), `${k} is byte-identical`);
  });

  it('Share Folder of bytes already shared under another name asks first; Cancel publishes nothing', async () => {
    const before = a.controller.catalog.all.length;
    const result = await vscode.commands.executeCommand<ShareResult | undefined>(
      'silmaril.shareFolder',
      vscode.Uri.file(join(workspace, 'tiny-model')),
      { name: 'vscode-test/tiny-model-again', license: 'apache-2.0', tags: [], quiet: true, duplicate: 'Cancel' },
    );
    assert.equal(result, undefined, 'nothing shared');
    await a.controller.catalog.reload();
    assert.equal(a.controller.catalog.all.length, before);
    assert.ok(!a.controller.catalog.all.some((m) => m.name === 'vscode-test/tiny-model-again'));
  });

  it('downloads a model served by a headless node into the workspace, verified', async () => {
    const tmp = mkdtempSync(join(testTmp(), 'headless-'));
    const source = writeModel(join(tmp, 'data', 'remote-model'), 7);
    headless = cli(['seed', source, '--json', '--no-dht', '--no-lsd', '--home', join(tmp, 'home')]);
    const ready = (await headless.waitForLine((l) => l.event === 'ready', 'the headless seed to be ready')) as {
      magnet: string;
      port: number;
      v1: string;
    };
    const magnet = `${ready.magnet}&x.pe=127.0.0.1:${ready.port}`;
    const size = [...readTree(source).values()].reduce((s, b) => s + b.length, 0);
    const model = { name: 'headless/remote-model', magnet, size, license: 'mit', format: 'safetensors' };
    const dest = join(workspace, 'downloads');
    const t = await vscode.commands.executeCommand<TransferView>('silmaril.downloadIntoWorkspace', model, {
      folder: dest,
      confirm: false,
    });
    assert.ok(t, 'the download started');
    assert.equal(t.id, ready.v1);
    const done = await waitFor(
      'the download to complete and verify',
      () => a.controller.core!.transfers().find((x) => x.id === ready.v1 && x.progress === 1 && x.verified === true),
      120_000,
    );
    assert.equal(done.kind, 'download');
    const got = readTree(join(dest, 'remote-model'));
    const want = readTree(source);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the same files, no pad files');
    for (const [k, v] of want) assert.ok(got.get(k)!.equals(v), `${k} is byte-identical`);

    a.controller.transfers.post();
    const row = a.controller.transfers.last!.transfers.find((r) => r.id === ready.v1);
    assert.ok(row, 'the Transfers view has a row for the download');
    assert.equal(row.progress, 1);
    assert.equal(row.verified, true);

    const v = await vscode.commands.executeCommand<VerifyResult>('silmaril.verifyModel', ready.v1, { quiet: true });
    assert.equal(v?.ok, true, 'Verify Model accepts the download');
  });

  it('Export .torrent writes the torrent; Copy Magnet Link returns the magnet', async () => {
    const out = join(testTmp(), 'exported.torrent');
    const written = await vscode.commands.executeCommand<string>('silmaril.exportTorrent', shared.v1, out);
    assert.equal(written, out);
    const bytes = readFileSync(out);
    assert.equal(String.fromCharCode(bytes[0]), 'd', 'a bencoded dictionary');
    assert.ok(bytes.includes(Buffer.from('piece layers')), 'a hybrid torrent (v2 piece layers)');
    const node = a.controller.local.getChildren().find((n) => n.transfer?.id === shared.v1);
    const magnet = await vscode.commands.executeCommand<string>('silmaril.copyMagnet', node);
    assert.equal(magnet, node!.transfer!.magnet);
  });

  it('after the engine restarts (a new editor session), the seed and the download resume', async () => {
    await a.controller.stop();
    a.controller.startSoon();
    await a.controller.ready;
    assert.equal(a.controller.engine, 'running');
    await waitFor('the share to be seeding again', () =>
      a.controller.local.getChildren().find((n) => n.transfer?.id === shared.v1 && n.state === 'seeding'),
    );
    assert.ok(
      a.controller.core!.transfers().some((t) => t.kind === 'download'),
      'the finished download is back too (it keeps seeding)',
    );
  });

  it('Stop Sharing stops the seed and the folder shows as not shared; Withdraw takes the entry off the catalog', async () => {
    const node = a.controller.local.getChildren().find((n) => n.transfer?.id === shared.v1);
    await vscode.commands.executeCommand('silmaril.stopSharing', node, { withdraw: true });
    const after = a.controller.local.getChildren().find((n) => n.path === join(workspace, 'tiny-model'));
    assert.equal(after?.state, 'notShared');
    await a.controller.catalog.reload();
    assert.ok(
      !a.controller.catalog.all.some((m) => m.name === 'vscode-test/tiny-model' && m.signed !== false),
      'our signed entry is withdrawn',
    );
  });
});

describe('the embedded tracker', function () {
  this.timeout(60_000);

  it('Start Embedded Tracker serves announces; shares made meanwhile announce to it; Stop stops it', async () => {
    const a = await api();
    await vscode.workspace
      .getConfiguration('silmaril')
      .update('embeddedTracker.port', 0, vscode.ConfigurationTarget.Global);
    const status = await vscode.commands.executeCommand<TrackerStatus>('silmaril.startTracker');
    assert.ok(status?.running, 'the tracker runs');
    assert.match(status.announceUrl!, /^http:\/\/127\.0\.0\.1:\d+\/announce$/);
    const folder = writeModel(join(testTmp(), 'tracked-model'), 21);
    const shared = await vscode.commands.executeCommand<ShareResult>('silmaril.shareFolder', vscode.Uri.file(folder), {
      name: 'vscode-test/tracked-model',
      license: 'mit',
      tags: [],
      quiet: true,
    });
    assert.ok(
      shared?.magnet.includes(encodeURIComponent(status.announceUrl!)),
      'the new torrent names the embedded tracker',
    );
    await waitFor(
      'the seed to announce to the embedded tracker',
      () => a.controller.core!.trackerStatus().seeders >= 1,
    );
    a.controller.transfers.post();
    assert.equal(a.controller.transfers.last?.tracker.running, true, 'the Transfers view shows the tracker');
    assert.equal(a.controller.transfers.last?.tracker.announceUrl, status.announceUrl);
    const res = await fetch(status.announceUrl!.replace('/announce', '/'));
    assert.ok(res.status < 500, 'it answers HTTP');
    await vscode.commands.executeCommand('silmaril.stopTracker');
    assert.equal(a.controller.core!.trackerStatus().running, false);
    await assert.rejects(fetch(status.announceUrl!), 'the port is closed');
  });
});
