// The catalog over a private loopback DHT: the extension's engine is the DHT's first node; a headless node
// (`node dist/cli.js share` then `daemon`, bootstrapped from the extension's DHT port) publishes a model; Refresh
// Catalog finds it through the BEP 44 pointers and fetches the catalog file, and the model downloads with peers
// found through the DHT alone.
import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import * as vscode from 'vscode';
import type { SilmarilApi } from '../../src/extension.js';
import { ModelNode, OrgNode } from '../../src/ui/catalog-tree.js';
import type { TransferView } from '../../src/ui/core.js';
import { api, cli, type CliNode, readTree, testTmp, waitFor, writeModel } from './helpers.js';

describe('catalog from a headless node on a private DHT', function () {
  this.timeout(240_000);
  let a: SilmarilApi;
  let daemon: CliNode | undefined;
  let source: string;
  let shared: { v1: string };

  before(async () => {
    a = await api();
  });

  after(async () => {
    await daemon?.stop();
    const gen = a.controller.generation;
    await vscode.workspace.getConfiguration('silmaril').update('dht.enabled', false, vscode.ConfigurationTarget.Global);
    await waitFor(
      'the engine to restart with DHT off',
      () => a.controller.generation > gen && a.controller.engine === 'running',
    );
  });

  it('the headless node joins the extension DHT and publishes a model', async () => {
    const gen = a.controller.generation;
    await vscode.workspace.getConfiguration('silmaril').update('dht.enabled', true, vscode.ConfigurationTarget.Global);
    await waitFor(
      'the engine to restart with DHT on',
      () => a.controller.generation > gen && a.controller.engine === 'running' && a.controller.core?.dhtPort,
    );
    const port = a.controller.core!.dhtPort!;
    const tmp = mkdtempSync(join(testTmp(), 'dht-'));
    const home = join(tmp, 'home');
    source = writeModel(join(tmp, 'data', 'dht-model'), 11);
    const share = cli(['share', source, '--name', 'dhtpub/dht-model', '--license', 'mit', '--home', home, '--json']);
    shared = (await share.waitForLine((l) => l.event === 'shared', 'silmaril share')) as typeof shared;
    await share.stop();
    daemon = cli([
      'daemon',
      '--home',
      home,
      '--json',
      '--no-lsd',
      '--dht-bootstrap',
      `127.0.0.1:${port}`,
      '--refresh',
      '30',
    ]);
    await daemon.waitForLine((l) => l.event === 'published', 'the daemon to publish its catalog', 90_000);
  });

  it('Refresh Catalog lists it, signed', async () => {
    const entry = await waitFor(
      'dhtpub/dht-model in the Catalog view',
      async () => {
        await vscode.commands.executeCommand('silmaril.refreshCatalog');
        const org = (a.controller.catalog.getChildren() as OrgNode[]).find((o) => o.org === 'dhtpub');
        return (
          org && (a.controller.catalog.getChildren(org) as ModelNode[]).find((m) => m.model.name === 'dhtpub/dht-model')
        );
      },
      150_000,
    );
    assert.equal(entry.model.v1, shared.v1);
    assert.equal(entry.trust, 'signed');
  });

  it('Download into Workspace completes with peers from the DHT, verified', async () => {
    const org = (a.controller.catalog.getChildren() as OrgNode[]).find((o) => o.org === 'dhtpub')!;
    const node = (a.controller.catalog.getChildren(org) as ModelNode[]).find(
      (m) => m.model.name === 'dhtpub/dht-model',
    )!;
    const dest = join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'from-dht');
    const t = await vscode.commands.executeCommand<TransferView>('silmaril.downloadIntoWorkspace', node, {
      folder: dest,
      confirm: false,
    });
    assert.ok(t);
    const done = await waitFor(
      'the DHT download to complete and verify',
      () => a.controller.core!.transfers().find((x) => x.id === shared.v1 && x.progress === 1 && x.verified === true),
      150_000,
    );
    for (const [k, v] of readTree(source)) assert.ok(readTree(done.path).get(k)?.equals(v), `${k} is byte-identical`);
  });
});
