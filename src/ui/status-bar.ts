// The status bar item: total up and down rate and the number of active transfers; a click opens Transfers.
import * as vscode from 'vscode';
import type { TransferView } from './core.js';
import { formatRate } from './format.js';
import { isSystemTransfer } from './system.js';

export class StatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('silmaril.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Silmaril Transfers';
    this.item.command = 'silmaril.showTransfers';
    this.update([], 'starting');
    this.item.show();
  }

  update(transfers: TransferView[], engine: 'starting' | 'running' | 'stopped' | 'untrusted' | 'failed'): void {
    if (engine !== 'running') {
      this.item.text =
        engine === 'untrusted'
          ? '$(shield) Silmaril'
          : engine === 'failed'
            ? '$(error) Silmaril'
            : '$(sync~spin) Silmaril';
      this.item.tooltip =
        engine === 'untrusted'
          ? 'Silmaril: Restricted Mode, nothing is shared or downloaded in an untrusted workspace'
          : engine === 'failed'
            ? 'Silmaril: the engine could not start (see Silmaril: Show Log)'
            : 'Silmaril: starting the engine';
      return;
    }
    const up = transfers.reduce((s, t) => s + t.uploadRate, 0);
    const down = transfers.reduce((s, t) => s + t.downloadRate, 0);
    // The node's own catalog files are not "active transfers" to a user (they are counted only when shown).
    const active = transfers.filter((t) => t.state !== 'paused' && t.state !== 'error').length;
    const system = transfers.filter(isSystemTransfer).length;
    this.item.text = `$(arrow-up) ${formatRate(up)} $(arrow-down) ${formatRate(down)} $(arrow-swap) ${active}`;
    this.item.tooltip = `Silmaril: ${active} active transfer${active === 1 ? '' : 's'} (${transfers.length} in all${system ? `, ${system} of them the node's own catalog files` : ''}). Click to show Transfers.`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
