// Activation: cheap and offline. Registers the views and commands; the engine starts later, off the activation path.
import * as vscode from 'vscode';
import { registerViews } from './ui/views';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Silmaril', { log: true });
  context.subscriptions.push(log);
  log.info(`Silmaril ${context.extension.packageJSON.version} activated`);
  registerViews(context, log);
  context.subscriptions.push(vscode.commands.registerCommand('silmaril.showLog', () => log.show()));
}

export function deactivate(): void {}
