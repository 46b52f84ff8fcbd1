// The catalog across the network: a second, headless node (`node dist/cli.js`) runs a tracker, shares a model
// (registered in the tracker's registry) and seeds it with `daemon`; the extension, given the tracker in its
// settings, lists the model in the Catalog view and downloads it into the workspace with the catalog item's
// "Download into Workspace" command, peers found through the tracker.
import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import * as vscode from 'vscode';
import type { SilmarilApi } from '../../src/extension.js';
import { ModelNode, OrgNode } from '../../src/ui/catalog-tree.js';
import type { ShareResult, TransferView } from '../../src/ui/core.js';
import { api, cli, type CliNode, readTree, testTmp, waitFor, writeModel } from './helpers.js';

describe('catalog from a headless node through its tracker registry', function () {
  this.timeout(240_000);
  let a: SilmarilApi;
  let tracker: CliNode | undefined;
  let daemon: CliNode | undefined;
  let source: string;
  let shared: { v1: string; name: string; registered: string[] };

  before(async () => {
    a = await api();
  });

  after(async () => {
    await daemon?.stop();
    await tracker?.stop();
    const gen = a.controller.generation;
    await vscode.workspace.getConfiguration('silmaril').update('trackers', [], vscode.ConfigurationTarget.Global);
    await waitFor(
      'the engine to restart without the tracker',
      () => a.controller.generation > gen && a.controller.engine === 'running',
    );
  });

  it('the headless node runs a tracker, shares a model into its registry and seeds it', async () => {
    const tmp = mkdtempSync(join(testTmp(), 'headless-'));
    const home = join(tmp, 'home');
    tracker = cli(['tracker', '--port', '0', '--home', join(tmp, 'tracker-home'), '--json', '--no-udp']);
    const t = (await tracker.waitForLine((l) => l.event === 'ready', 'silmaril tracker')) as Record<string, unknown>;
    const announce = String(t.announce ?? `${t.url}/announce`);
    source = writeModel(join(tmp, 'data', 'remote-model'), 3);
    const share = cli([
      'share',
      source,
      '--name',
      'headless/remote-model',
      '--license',
      'mit',
      '--tracker',
      announce,
      '--home',
      home,
      '--json',
    ]);
    shared = (await share.waitForLine((l) => l.event === 'shared', 'silmaril share')) as typeof shared;
    await share.stop();
    assert.deepEqual(shared.registered, [announce], 'registered in the tracker registry');
    daemon = cli(['daemon', '--home', home, '--json', '--no-dht', '--no-lsd']);
    await daemon.waitForLine((l) => l.event === 'ready', 'the daemon to seed');
    const gen = a.controller.generation;
    await vscode.workspace
      .getConfiguration('silmaril')
      .update('trackers', [announce], vscode.ConfigurationTarget.Global);
    await waitFor(
      'the engine to restart with the tracker',
      () => a.controller.generation > gen && a.controller.engine === 'running',
    );
  });

  it('the engine start reads the registry by itself (no refresh needed)', async () => {
    await waitFor(
      'headless/remote-model in the catalog without a refresh',
      () => a.controller.catalog.all.some((m) => m.name === 'headless/remote-model'),
      30_000,
    );
  });

  it('Refresh Catalog lists the model in the Catalog view', async () => {
    const entry = await waitFor(
      'headless/remote-model in the Catalog view',
      async () => {
        await vscode.commands.executeCommand('silmaril.refreshCatalog');
        const org = (a.controller.catalog.getChildren() as OrgNode[]).find((o) => o.org === 'headless');
        return (
          org &&
          (a.controller.catalog.getChildren(org) as ModelNode[]).find((m) => m.model.name === 'headless/remote-model')
        );
      },
      60_000,
    );
    assert.equal(entry.model.v1, shared.v1);
    assert.equal(entry.trust, 'unsigned', 'a registry listing carries no publisher signature');
    const item = a.controller.catalog.getTreeItem(entry);
    assert.equal(item.contextValue, 'catalogModel', 'the item offers Download into Workspace');
    assert.match(String(item.description), /^mit · /);
  });

  it('Share Folder registers the share with the configured tracker', async () => {
    const folder = writeModel(join(testTmp(), 'registered-model'), 9);
    const announce = vscode.workspace.getConfiguration('silmaril').get<string[]>('trackers')![0];
    const result = await vscode.commands.executeCommand<ShareResult>('silmaril.shareFolder', vscode.Uri.file(folder), {
      name: 'vscode-test/registered-model',
      license: 'mit',
      tags: [],
      quiet: true,
    });
    assert.deepEqual(result?.registered, [announce]);
    assert.deepEqual(result?.warnings, []);
    const res = await fetch(announce.replace(/\/announce$/, `/api/registry/search?q=registered`));
    const rows = (await res.json()) as { name: string }[];
    assert.ok(
      rows.some((r) => r.name === 'vscode-test/registered-model'),
      `the tracker's registry lists it (${JSON.stringify(rows).slice(0, 200)})`,
    );
  });

  it('Download into Workspace fetches it from the headless node, verified and byte-identical', async () => {
    const org = (a.controller.catalog.getChildren() as OrgNode[]).find((o) => o.org === 'headless')!;
    const node = (a.controller.catalog.getChildren(org) as ModelNode[]).find(
      (m) => m.model.name === 'headless/remote-model',
    )!;
    const workspace = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const dest = join(workspace, 'from-catalog');
    const t = await vscode.commands.executeCommand<TransferView>('silmaril.downloadIntoWorkspace', node, {
      folder: dest,
      confirm: false,
    });
    assert.ok(t, 'the download started');
    const done = await waitFor(
      'the catalog download to complete and verify',
      () => a.controller.core!.transfers().find((x) => x.id === shared.v1 && x.progress === 1 && x.verified === true),
      150_000,
    );
    const got = readTree(done.path);
    for (const [k, v] of readTree(source)) assert.ok(got.get(k)?.equals(v), `${k} is byte-identical`);
    const local = await waitFor('the download in Local Models', () =>
      a.controller.local.getChildren().find((n) => n.transfer?.id === shared.v1),
    );
    assert.equal(local.state, 'seeding', 'a finished download keeps seeding');
  });
});
