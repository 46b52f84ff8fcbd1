// Activation: cheap and offline. Registers the views and commands; the engine starts on the next turn of the event
// loop (src/ui/controller.ts), never on the activation path, and stops cleanly on deactivate.
import * as vscode from 'vscode';
import type { Controller } from './ui/controller.js';
import { registerViews } from './ui/views.js';

let controller: Controller | undefined;

/** What activate() returns: the extension tests use it to look at the views' state. */
export interface SilmarilApi {
  controller: Controller;
  activationMs: number;
}

export function activate(context: vscode.ExtensionContext): SilmarilApi {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Silmaril', { log: true });
  context.subscriptions.push(log);
  controller = registerViews(context, log);
  controller.startSoon();
  const activationMs = performance.now() - t0;
  log.info(`Silmaril ${context.extension.packageJSON.version} activated in ${activationMs.toFixed(1)} ms`);
  return { controller, activationMs };
}

export async function deactivate(): Promise<void> {
  const c = controller;
  controller = undefined;
  await c?.stop();
}
