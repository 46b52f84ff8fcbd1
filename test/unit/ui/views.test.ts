// The Local Models view, the status bar and the Transfers view host against a fake of the port
// (test/unit/ui/fake-core.ts) and of the few vscode classes they use: which state each model shows, how shares
// outside the scanned folders still appear, that an idle stats tick does not redraw, what the status bar sums up,
// and that the host sends what the page accepts.
import assert from 'node:assert/strict';
import { register } from 'node:module';
import { describe, it } from 'node:test';
import type { UiCore } from '../../../src/ui/core.js';
import { FakeCore, transfer } from './fake-core.js';

register('./vscode-hook.mjs', import.meta.url);
const { LocalTree } = await import('../../../src/ui/local-tree.js');
const { StatusBar } = await import('../../../src/ui/status-bar.js');
const { TransfersView } = await import('../../../src/ui/transfers-view.js');
const { parseHostMessage, parseWebviewMessage } = await import('../../../src/ui/messages.js');

const log = { error() {}, warn() {}, info() {}, debug() {}, trace() {} } as any;

function model(path: string, name: string) {
  return { path, name, size: 2048, files: 2, format: 'safetensors', tags: [], license: 'mit' };
}

describe('Local Models view', () => {
  it('joins the models on disk with the transfers: seeding, paused, downloading, not shared', async () => {
    const core = new FakeCore();
    core.models = [model('/models/a', 'a'), model('/models/b', 'b'), model('/models/c', 'c'), model('/models/d', 'd')];
    core.list = [
      transfer({ id: 'a'.repeat(40), path: '/models/a', name: 'a' }),
      transfer({ id: 'b'.repeat(40), path: '/models/b', name: 'b', state: 'paused' }),
      transfer({
        id: 'c'.repeat(40),
        path: '/models/c',
        name: 'c',
        kind: 'download',
        state: 'downloading',
        progress: 0.42,
      }),
      // Shared from outside the scanned folders: listed too.
      transfer({ id: 'e'.repeat(40), path: '/elsewhere/e', name: 'e' }),
    ];
    const tree = new LocalTree(
      () => core as unknown as UiCore,
      () => ['/models'],
      log,
    );
    await tree.rescan();
    const nodes = tree.getChildren();
    assert.deepEqual(
      nodes.map((n) => [n.name, n.state]),
      [
        ['a', 'seeding'],
        ['b', 'paused'],
        ['c', 'downloading'],
        ['d', 'notShared'],
        ['e', 'seeding'],
      ],
    );
    const items = nodes.map((n) => tree.getTreeItem(n));
    assert.equal(items[0].contextValue, 'localModel.seeding');
    assert.match(String(items[0].description), /^seeding · 1 peer · ↑ /);
    assert.match(String(items[2].description), /^downloading 42% /);
    assert.equal(items[3].contextValue, 'localModel.notShared');
    assert.match(String(items[3].description), /^not shared · /);
  });

  it('redraws on a stats tick only when something shown changed', async () => {
    const core = new FakeCore();
    core.list = [transfer()];
    const tree = new LocalTree(
      () => core as unknown as UiCore,
      () => [],
      log,
    );
    const changed = (tree as any).changed;
    tree.refresh();
    const after1 = changed.fired;
    tree.refresh();
    assert.equal(changed.fired, after1, 'an idle tick draws nothing');
    core.list = [transfer({ peers: 3 })];
    tree.refresh();
    assert.equal(changed.fired, after1 + 1);
  });

  it("hides the node's own catalog files unless Show System Transfers is on, and never offers Stop on them", async () => {
    const core = new FakeCore();
    const catalogPath = `/home/u/.silmaril/catalogs/${'d'.repeat(40)}`;
    core.models = [model('/models/a', 'a'), { ...model(catalogPath, 'catalog'), system: true } as any];
    core.list = [
      transfer({ id: 'a'.repeat(40), path: '/models/a', name: 'a' }),
      transfer({ id: 'c'.repeat(40), path: `${catalogPath}/catalog.bin`, name: 'catalog.bin', system: true } as any),
    ];
    let show = false;
    const tree = new LocalTree(
      () => core as unknown as UiCore,
      () => ['/models'],
      log,
      () => show,
    );
    await tree.rescan();
    assert.deepEqual(
      tree.getChildren().map((n) => n.name),
      ['a'],
    );
    show = true;
    const nodes = tree.getChildren();
    assert.equal(nodes.length, 3);
    const system = nodes.filter((n) => n.system).map((n) => tree.getTreeItem(n));
    assert.ok(system.length >= 1);
    for (const item of system) assert.equal(item.contextValue, 'localModel.system');
  });

  it('shows nothing before the node exists', () => {
    const tree = new LocalTree(
      () => undefined,
      () => [],
      log,
    );
    assert.deepEqual(tree.getChildren(), []);
  });
});

describe('status bar', () => {
  it('sums the rates and counts active transfers; says why when the engine is not running', () => {
    const bar = new StatusBar();
    bar.update(
      [
        transfer({ uploadRate: 2048, downloadRate: 0 }),
        transfer({ uploadRate: 0, downloadRate: 1024, state: 'downloading' }),
        transfer({ state: 'paused', uploadRate: 0 }),
      ],
      'running',
    );
    assert.match(bar.item.text, /\$\(arrow-swap\) 2$/);
    assert.match(String(bar.item.tooltip), /2 active transfers \(3 in all\)/);
    bar.update([], 'untrusted');
    assert.equal(bar.item.text, '$(shield) Silmaril');
    bar.update([], 'failed');
    assert.match(String(bar.item.tooltip), /could not start/);
  });
});

describe('Transfers view host', () => {
  it('sends what the page accepts (the same messages.ts on both sides), and acts on what the page posts', async () => {
    const core = new FakeCore();
    core.list = [
      transfer(),
      transfer({
        id: 'b'.repeat(40),
        kind: 'download',
        state: 'downloading',
        progress: 0.25,
        etaSeconds: 12,
        verified: undefined,
      }),
      transfer({ id: 'c'.repeat(40), state: 'error', error: 'disk full', verified: undefined }),
    ];
    const posted: unknown[] = [];
    const actions: unknown[] = [];
    let onMessage: (raw: unknown) => Promise<void> = async () => {};
    const view = new TransfersView(
      { fsPath: '/ext' } as any,
      () => core as unknown as UiCore,
      () => 'running',
      async (m) => void actions.push(m),
      log,
    );
    const webview = {
      options: {},
      html: '',
      cspSource: 'vscode-resource:',
      asWebviewUri: (u: unknown) => u,
      postMessage: async (m: unknown) => void posted.push(m),
      onDidReceiveMessage: (fn: (raw: unknown) => Promise<void>) => ((onMessage = fn), { dispose() {} }),
    };
    view.resolveWebviewView({
      webview,
      visible: true,
      onDidChangeVisibility: () => ({ dispose() {} }),
      onDidDispose: () => ({ dispose() {} }),
    } as any);
    assert.match(webview.html, /dist\/webview\/transfers\.js/);
    view.post();
    const sent = parseHostMessage(posted.at(-1));
    assert.ok(sent, `the page accepts what the host sends: ${JSON.stringify(posted.at(-1))}`);
    assert.deepEqual(
      sent.transfers.map((r) => [r.id[0], r.state, r.etaSeconds, r.verified, r.error]),
      [
        ['0', 'seeding', null, true, null],
        ['b', 'downloading', 12, null, null],
        ['c', 'error', null, null, 'disk full'],
      ],
    );
    await onMessage({ type: 'pause', id: 'b'.repeat(40) });
    await onMessage({ type: 'pause', id: '../etc/passwd' });
    assert.deepEqual(actions, [parseWebviewMessage({ type: 'pause', id: 'b'.repeat(40) })]);
  });
});
