// One node per home, from the editor's side: with a `silmaril daemon` running on the editor's home, the editor
// (silmaril.node "auto") attaches to it instead of starting a second engine. Its views then show the daemon's
// transfers and catalog (a share made with the CLI appears in the Transfers view and the Catalog), and its actions
// (pause) act on the daemon. When the daemon stops, the editor embeds its own node again.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import type { SilmarilApi } from '../../src/extension.js';
import { api, cli, type CliNode, testTmp, waitFor, writeModel } from './helpers.js';

describe('the editor attaches to a daemon running on its home', function () {
  this.timeout(180_000);
  let a: SilmarilApi;
  let daemon: CliNode | undefined;
  const home = () => process.env.SILMARIL_HOME!;

  before(async () => {
    a = await api();
  });

  after(async () => {
    await daemon?.stop();
    // Leave the editor as the other tests expect it: running its own node.
    if (a.controller.core?.mode !== 'embedded') {
      await a.controller.stop();
      a.controller.startSoon();
      await a.controller.ready;
    }
  });

  it('attaches instead of starting a second engine, and shows what the daemon does', async () => {
    // The editor's own node holds the home now: stop it, start a daemon there, start the editor again.
    await a.controller.stop();
    daemon = cli(['daemon', '--home', home(), '--no-dht', '--no-lsd', '--json']);
    const ready = await daemon.waitForLine((l) => l.event === 'ready', 'the daemon ready');
    a.controller.startSoon();
    await a.controller.ready;
    assert.equal(a.controller.engine, 'running');
    assert.equal(a.controller.core?.mode, 'attached', 'the editor attached to the daemon');

    // A share made with the CLI goes to the daemon and shows in the editor's Transfers view and Catalog.
    const model = writeModel(join(testTmp(), 'attach-model'), 7);
    const share = cli(['share', model, '--name', 'attach/tiny', '--license', 'mit', '--home', home(), '--json']);
    const shared = await share.waitForLine((l) => l.event === 'shared', 'the CLI share');
    assert.equal(shared.seededBy, 'node');
    const v1 = shared.v1 as string;
    const seen = await waitFor('the share in the editor (from the daemon)', () =>
      a.controller.core?.transfers().find((t) => t.id === v1),
    );
    assert.equal(seen.kind, 'seed');
    await a.controller.catalog.reload();
    const entries = await a.controller.core!.searchCatalog({ text: 'attach' });
    assert.deepEqual(
      entries.map((e) => e.name),
      ['attach/tiny'],
    );

    // An action in the editor acts on the daemon.
    await a.controller.core!.pause(v1);
    const status = cli(['status', '--home', home(), '--json']);
    const st = await status.waitForLine((l) => l.running === true, 'silmaril status');
    assert.equal(st.pid, daemon.child.pid);
    const t = (st.transfers as { id: string; state: string }[]).find((x) => x.id === v1);
    assert.equal(t?.state, 'paused', 'the daemon paused it');
    assert.equal(typeof ready.controlPort, 'number');
  });

  it('embeds its own node again by itself once the daemon has stopped', async () => {
    const stop = cli(['stop', '--home', home(), '--json']);
    await stop.waitForLine((l) => l.event === 'stopped', 'silmaril stop');
    await waitFor('the editor to run its own node', () =>
      a.controller.core?.mode === 'embedded' && a.controller.engine === 'running' ? true : undefined,
    );
    await a.controller.ready;
  });

  it('its own node stops when asked through its control API (silmaril stop)', async () => {
    const stop = cli(['stop', '--home', home(), '--json']);
    const line = await stop.waitForLine((l) => l.event === 'stopped', 'silmaril stop');
    assert.equal(line.kind, 'editor');
    await waitFor('the editor engine stopped', () => (a.controller.engine === 'stopped' ? true : undefined));
  });
});
