// Wires the editor layer: the controller (core, trees, transfers view, status bar) and the commands.
import * as vscode from 'vscode';
import { registerCommands } from './commands.js';
import { Controller } from './controller.js';

export function registerViews(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Controller {
  const controller = new Controller(context, log);
  context.subscriptions.push(controller, ...registerCommands(controller));
  return controller;
}
