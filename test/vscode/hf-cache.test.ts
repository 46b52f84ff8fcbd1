// The Hugging Face cache in the editor (issue 11): the extension host runs with HF_HUB_CACHE pointing at a folder of
// this run (scripts/test-vscode.mjs sets it in code-server's environment, which the extension host inherits), filled
// here the way huggingface_hub lays a cache out (blobs named by etag, snapshot files as relative links into blobs/,
// refs, two revisions sharing a blob). Local Models lists the cached repository; Share Folder on a snapshot publishes
// it under its repo id and seeds it in place without touching the cache; "Download into Hugging Face Cache" on a model
// a headless node published from its own cache writes it into the editor's cache, read back by @huggingface/hub.
import * as assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { downloadFileToCacheDir, scanCacheDir } from '@huggingface/hub';
import { after, before, describe, it } from 'mocha';
import * as vscode from 'vscode';
import type { SilmarilApi } from '../../src/extension.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { ModelNode, OrgNode } from '../../src/ui/catalog-tree.js';
import type { ShareResult, TransferView, VerifyResult } from '../../src/ui/core.js';
import {
  addRevision,
  bytesOf,
  COMMIT_A,
  COMMIT_B,
  makeFakeCache,
  type FakeFile,
} from '../unit/models/hf-fake-cache.js';
import { api, cli, type CliNode, hfCache, testTmp, treeStat, waitFor } from './helpers.js';

const COMMIT_C = 'c'.repeat(40);
const REMOTE: FakeFile[] = [
  { path: 'config.json', bytes: Buffer.from('{"architectures":["LlamaForCausalLM"]}\n') },
  { path: 'model.safetensors', bytes: bytesOf(300_000, 31), lfs: true },
  { path: 'tokenizer/tokenizer.json', bytes: bytesOf(20_000, 32) },
];

describe('the Hugging Face cache in the editor', function () {
  this.timeout(240_000);
  let a: SilmarilApi;
  let cache: string;
  let repoDir: string;
  let shared: ShareResult | undefined;
  let sharedRepo: ShareResult | undefined;
  let daemon: CliNode | undefined;
  let dhtOn = false;

  before(async () => {
    a = await api();
    cache = hfCache();
    makeFakeCache(cache);
    repoDir = join(cache, 'models--org--tiny');
  });

  after(async () => {
    await daemon?.stop();
    await vscode.workspace
      .getConfiguration('silmaril')
      .update('huggingFace.webSeed', undefined, vscode.ConfigurationTarget.Global);
    // Leave the engine as the next test file expects it: no seed of ours, DHT off.
    for (const s of [shared, sharedRepo]) {
      const node = a.controller.local.getChildren().find((n) => s && n.transfer?.id === s.v1);
      if (node) await vscode.commands.executeCommand('silmaril.stopSharing', node, { withdraw: false });
    }
    if (dhtOn) {
      const gen = a.controller.generation;
      await vscode.workspace
        .getConfiguration('silmaril')
        .update('dht.enabled', false, vscode.ConfigurationTarget.Global);
      await waitFor(
        'the engine to restart with DHT off',
        () => a.controller.generation > gen && a.controller.engine === 'running',
      );
    }
  });

  it('Local Models lists the cached repository with its revisions and refs', async () => {
    await a.controller.local.rescan();
    const nodes = a.controller.local.getChildren();
    const node = nodes.find((n) => n.hf?.repo === 'org/tiny');
    assert.ok(node, `org/tiny is listed (got ${nodes.map((n) => n.name).join(', ')})`);
    assert.equal(node.name, 'org/tiny');
    assert.equal(node.path, resolve(repoDir));
    assert.equal(node.state, 'notShared');
    const revs = node.hf!.revisions.map((r) => ({ commit: r.commit, refs: r.refs, files: r.files }));
    revs.sort((x, y) => x.commit.localeCompare(y.commit));
    assert.deepEqual(revs, [
      { commit: COMMIT_A, refs: [], files: 3 },
      { commit: COMMIT_B, refs: ['main'], files: 3 },
    ]);
    const item = a.controller.local.getTreeItem(node);
    assert.equal(item.label, 'org/tiny');
    assert.match(String(item.description), /^HF cache · 2 revisions · /);
    assert.equal(item.contextValue, 'localModel.notShared');
  });

  it('Share Folder on a snapshot publishes it as the repo id, its paths, seeded in place, the cache untouched', async () => {
    const snapshot = join(repoDir, 'snapshots', COMMIT_A);
    const before = treeStat(repoDir);
    const result = await vscode.commands.executeCommand<ShareResult>(
      'silmaril.shareFolder',
      vscode.Uri.file(snapshot),
      { license: 'mit', tags: [], quiet: true }, // no name: the default is what the user would be offered
    );
    assert.ok(result, 'the command returned a share');
    shared = result;
    assert.equal(result.published, true);

    await a.controller.catalog.reload();
    const entry = a.controller.catalog.all.find((m) => m.v1 === result.v1);
    assert.ok(entry, 'the share is in the catalog');
    assert.equal(entry.name, 'org/tiny', 'named after the repo id');

    const out = join(testTmp(), 'hf-share.torrent');
    await vscode.commands.executeCommand<string>('silmaril.exportTorrent', result.v1, out);
    const t = parseTorrent(readFileSync(out));
    const paths = t.files.filter((f) => !f.pad).map((f) => f.path.join('/'));
    assert.deepEqual(paths.sort(), ['config.json', 'model.safetensors', 'tokenizer/tokenizer.json']);

    const node = await waitFor('org/tiny seeding in Local Models', () =>
      a.controller.local.getChildren().find((n) => n.hf?.repo === 'org/tiny' && n.state === 'seeding'),
    );
    assert.equal(node.transfer!.id, result.v1);
    assert.equal(resolve(node.transfer!.path), resolve(snapshot), 'seeded from the snapshot folder itself');
    const v = await vscode.commands.executeCommand<VerifyResult>('silmaril.verifyModel', result.v1, { quiet: true });
    assert.equal(v?.ok, true, 'the seed reads every file through its link');

    const after = treeStat(repoDir);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'nothing added to or removed from the cache');
    for (const [p, s] of before) {
      const now = after.get(p)!;
      assert.equal(now.kind, s.kind, p);
      assert.equal(now.mtimeMs, s.mtimeMs, `${p}: mtime unchanged`);
      assert.ok(now.bytes.equals(s.bytes), `${p}: bytes (or link target) unchanged`);
    }
  });

  it("Share Folder on the repository's Local Models item shares the snapshot refs/main points at", async () => {
    const before = treeStat(repoDir);
    const item = a.controller.local.getChildren().find((n) => n.hf?.repo === 'org/tiny');
    assert.ok(item);
    // What the item's context menu passes to the command: the tree node (its path is the models--org--tiny folder).
    const result = await vscode.commands.executeCommand<ShareResult>('silmaril.shareFolder', item, {
      license: 'mit',
      tags: [],
      quiet: true,
    });
    assert.ok(result, 'the command returned a share');
    sharedRepo = result;
    assert.notEqual(result.v1, shared!.v1, 'another revision, another torrent');
    const t = await waitFor('the refs/main snapshot to seed', () =>
      a.controller.core!.transfers().find((x) => x.id === result.v1 && x.state === 'seeding'),
    );
    assert.equal(resolve(t.path), resolve(join(repoDir, 'snapshots', COMMIT_B)));
    await a.controller.catalog.reload();
    assert.equal(a.controller.catalog.all.find((m) => m.v1 === result.v1)?.name, 'org/tiny');
    const after = treeStat(repoDir);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'nothing added to or removed from the cache');
    for (const [p, s] of before) assert.equal(after.get(p)!.mtimeMs, s.mtimeMs, `${p}: mtime unchanged`);
  });

  it('Download into Hugging Face Cache fills the editor cache from a headless node; @huggingface/hub reads it back', async () => {
    // The headless node shares from its own cache (a second cache) and publishes on the editor's private DHT.
    const gen = a.controller.generation;
    await vscode.workspace.getConfiguration('silmaril').update('dht.enabled', true, vscode.ConfigurationTarget.Global);
    dhtOn = true;
    await waitFor(
      'the engine to restart with DHT on',
      () => a.controller.generation > gen && a.controller.engine === 'running' && a.controller.core?.dhtPort,
    );
    // Peers only: the Hub (HF_ENDPOINT is a dead loopback port in this run anyway) is not asked.
    await vscode.workspace
      .getConfiguration('silmaril')
      .update('huggingFace.webSeed', false, vscode.ConfigurationTarget.Global);
    const port = a.controller.core!.dhtPort!;
    const tmp = mkdtempSync(join(testTmp(), 'hf-remote-'));
    const remoteCache = join(tmp, 'hf-cache');
    addRevision(remoteCache, 'org2/remote', COMMIT_C, REMOTE, ['main']);
    const env = { HF_HUB_CACHE: remoteCache, HF_HOME: join(tmp, 'hf-home') };
    const home = join(tmp, 'home');
    const share = cli(['share', '--hf', 'org2/remote', '--license', 'mit', '--home', home, '--json'], env);
    const remote = (await share.waitForLine((l) => l.event === 'shared', 'silmaril share --hf')) as {
      v1: string;
      hfRepo?: string;
      hfCommit?: string;
    };
    await share.stop();
    assert.equal(remote.hfRepo, 'org2/remote');
    assert.equal(remote.hfCommit, COMMIT_C);
    daemon = cli(
      ['daemon', '--home', home, '--json', '--no-lsd', '--dht-bootstrap', `127.0.0.1:${port}`, '--refresh', '30'],
      env,
    );
    await daemon.waitForLine((l) => l.event === 'published', 'the daemon to publish its catalog', 90_000);

    const node = await waitFor(
      'org2/remote in the Catalog view',
      async () => {
        await vscode.commands.executeCommand('silmaril.refreshCatalog');
        const org = (a.controller.catalog.getChildren() as OrgNode[]).find((o) => o.org === 'org2');
        return (
          org && (a.controller.catalog.getChildren(org) as ModelNode[]).find((m) => m.model.name === 'org2/remote')
        );
      },
      150_000,
    );
    assert.equal(node.model.v1, remote.v1);

    const t = await vscode.commands.executeCommand<TransferView>('silmaril.downloadIntoHfCache', node);
    assert.ok(t, 'the download started');
    assert.equal(t.id, remote.v1);
    // The snapshot appears only once every file is verified and linked; the download's transfer is then forgotten
    // (its files became the cache's blobs).
    const rev = await waitFor(
      '@huggingface/hub to list org2/remote at its commit',
      async () => {
        const info = await scanCacheDir(cache);
        return info.repos.find((r) => r.id.name === 'org2/remote')?.revisions.find((r) => r.commitOid === COMMIT_C);
      },
      150_000,
    );
    const repo = join(cache, 'models--org2--remote');
    assert.equal(resolve(rev.path), resolve(join(repo, 'snapshots', COMMIT_C)));
    // The sharer's refs/main pointed at the commit; the signed entry carries it, so the ref is written here too.
    assert.equal(readFileSync(join(repo, 'refs', 'main'), 'utf8').trim(), COMMIT_C);
    for (const f of REMOTE) {
      const link = join(repo, 'snapshots', COMMIT_C, ...f.path.split('/'));
      assert.ok(lstatSync(link).isSymbolicLink(), `${f.path} is a link into blobs/`);
      const p = await downloadFileToCacheDir({
        repo: 'org2/remote',
        path: f.path,
        revision: COMMIT_C,
        cacheDir: cache,
        hubUrl: 'http://127.0.0.1:9', // offline: nothing listens there
      });
      assert.ok(readFileSync(p).equals(f.bytes), `${f.path} resolves offline to the published bytes`);
    }
    assert.equal(readdirSync(join(repo, 'blobs')).length, REMOTE.length, 'one blob per file');
    assert.ok(!readdirSync(repo).some((n) => n.startsWith('.')), 'no staging folder left in the repository folder');
    await a.controller.local.rescan();
    const listed = a.controller.local.getChildren().find((n) => n.hf?.repo === 'org2/remote');
    assert.deepEqual(
      listed?.hf?.revisions.map((r) => r.commit),
      [COMMIT_C],
      'Local Models lists the downloaded repository',
    );
  });
});
