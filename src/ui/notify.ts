// What the editor says when bytes land: a download that finished, or a download whose bytes this node already holds.
// Each message names the folder and offers the next step (open it, reveal it, copy it where it was wanted).
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { TransferView } from './core.js';

/** "Reveal in Explorer" for a path inside the workspace, "Reveal in OS" otherwise (the Explorer cannot show it). */
export function revealLabel(path: string): 'Reveal in Explorer' | 'Reveal in OS' {
  return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(path)) ? 'Reveal in Explorer' : 'Reveal in OS';
}

export async function revealPath(path: string): Promise<void> {
  const uri = vscode.Uri.file(path);
  if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
  else await vscode.commands.executeCommand('revealFileInOS', uri);
}

/** Opens a folder in a new window (this one keeps its workspace). */
export async function openFolder(path: string): Promise<void> {
  await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(path), { forceNewWindow: true });
}

/** A download finished: where it is, whether it verified, and Open Folder / Reveal. */
export async function notifyDownloadDone(t: TransferView): Promise<void> {
  const path = t.donePath ?? t.path;
  if (t.verified === false) {
    void vscode.window.showErrorMessage(
      `Silmaril: ${t.name} finished but did not verify: some bytes do not match the torrent (${path}). Run Verify Model to see which files.`,
    );
    return;
  }
  const reveal = revealLabel(path);
  const choice = await vscode.window.showInformationMessage(
    `Silmaril: ${t.name} downloaded${t.verified ? ' and verified' : ''}: ${path}`,
    'Open Folder',
    reveal,
  );
  if (choice === 'Open Folder') await openFolder(path);
  else if (choice === reveal) await revealPath(path);
}

/**
 * The bytes asked for are already here (seeded or downloaded earlier from `path`): say where, and offer to open them
 * there or copy them into `dest`. Returns the choice (tests pass it through the command's options).
 */
export async function offerPresent(
  name: string,
  path: string,
  dest: string,
  copy: () => Promise<string>,
  answer?: 'Open' | 'Copy into Workspace' | 'cancel',
): Promise<'opened' | 'copied' | 'nothing'> {
  const choice =
    answer ??
    (await vscode.window.showInformationMessage(
      `Silmaril: ${name} is already on this machine, at ${path}: nothing to download.`,
      {
        detail: `Its bytes are seeded from there. Open that folder, or copy the files (checked against the torrent) into ${dest}.`,
      },
      'Open',
      'Copy into Workspace',
    ));
  if (choice === 'Open') {
    await revealPath(path);
    return 'opened';
  }
  if (choice === 'Copy into Workspace') {
    const copied = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Silmaril: copying ${basename(path)} into ${dest}` },
      copy,
    );
    const reveal = revealLabel(copied);
    void vscode.window
      .showInformationMessage(`Silmaril: ${name} copied and verified: ${copied}`, reveal)
      .then((c) => (c === reveal ? revealPath(copied) : undefined));
    return 'copied';
  }
  return 'nothing';
}
