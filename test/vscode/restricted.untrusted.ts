// Restricted Mode (an untrusted workspace): the extension activates (declared `limited`) but shares and downloads
// nothing, says why, and keeps the engine off.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import * as vscode from 'vscode';
import { api } from './helpers.js';

describe('Restricted Mode', () => {
  it('activates with the engine off', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this window opened the folder untrusted');
    const a = await api();
    assert.equal(a.controller.engine, 'untrusted');
    assert.equal(a.controller.core, undefined, 'no engine, no ports, no DHT');
    a.controller.transfers.post();
    assert.equal(a.controller.transfers.last?.trusted, false, 'the Transfers view is told why nothing moves');
    assert.equal(a.controller.transfers.last?.engine, 'untrusted');
  });

  it('Share Folder refuses with the reason and writes nothing', async () => {
    const folder = join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'tiny-model');
    await assert.rejects(
      Promise.resolve(
        vscode.commands.executeCommand('silmaril.shareFolder', vscode.Uri.file(folder), {
          name: 'x/y',
          license: 'mit',
          tags: [],
          quiet: true,
        }),
      ),
      /Restricted Mode/,
    );
    assert.ok(!existsSync(process.env.SILMARIL_HOME!), 'nothing written to the state folder either');
  });

  it('Download into Workspace refuses with the reason', async () => {
    const model = {
      name: 'a/b',
      magnet: 'magnet:?xt=urn:btih:' + 'a'.repeat(40),
      size: 1,
      license: 'mit',
      format: 'other',
    };
    await assert.rejects(
      Promise.resolve(
        vscode.commands.executeCommand('silmaril.downloadIntoWorkspace', model, {
          folder: '/tmp',
          confirm: false,
          quiet: true,
        }),
      ),
      /Restricted Mode/,
    );
  });
});
