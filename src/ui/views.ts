// The sidebar's trees. Empty until the catalog and local-model inventory fill them; the welcome views say what to do.
import * as vscode from 'vscode';

class EmptyTree implements vscode.TreeDataProvider<never> {
  getTreeItem(element: never): vscode.TreeItem {
    return element;
  }
  getChildren(): never[] {
    return [];
  }
}

export function registerViews(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): void {
  context.subscriptions.push(
    vscode.window.registerTreeDataProvider('silmaril.catalog', new EmptyTree()),
    vscode.window.registerTreeDataProvider('silmaril.localModels', new EmptyTree()),
    vscode.commands.registerCommand('silmaril.shareFolder', () => {
      log.info('Share Folder is not available yet');
      void vscode.window.showInformationMessage('Silmaril: sharing arrives with the P2P engine.');
    }),
  );
}
