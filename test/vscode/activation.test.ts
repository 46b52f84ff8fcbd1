// The extension loads in a real VS Code, activates without the network, and contributes its commands and views;
// the engine starts after activation, off its path.
import * as assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import * as vscode from 'vscode';
import type { SilmarilApi } from '../../src/extension.js';
import { note } from './helpers.js';

const ID = 'silmaril.silmaril';

describe('activation', () => {
  it('activates and registers every contributed command', async () => {
    const ext = vscode.extensions.getExtension<SilmarilApi>(ID);
    assert.ok(ext, `extension ${ID} is loaded`);
    await ext.activate();
    assert.equal(ext.isActive, true);
    const contributed: { command: string }[] = ext.packageJSON.contributes.commands;
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.map((c) => c.command).filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], 'every command in package.json has a handler');
  });

  it('starts the engine after activation, in a trusted workspace', async () => {
    const api = vscode.extensions.getExtension<SilmarilApi>(ID)!.exports;
    await api.controller.ready;
    assert.equal(api.controller.engine, 'running');
    note(`activate() took ${api.activationMs.toFixed(1)} ms (measured inside activate)`);
  });
});
