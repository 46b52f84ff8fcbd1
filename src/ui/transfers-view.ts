// The Transfers webview view: one row per transfer (progress, rates, peers, ETA, verified, pause/resume/cancel) and
// the embedded tracker's address and swarm counts. Strict CSP (nonce, no remote content); the page keeps its last
// state with setState, and asks for a fresh one ('ready') whenever it is created again, so hide/show loses nothing
// without retainContextWhenHidden.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { TransferView, UiCore } from './core.js';
import { type HostMessage, type TransferRow, type WebviewMessage, parseWebviewMessage } from './messages.js';
import { isSystemTransfer, shownTransfers } from './system.js';

export function toRow(t: TransferView): TransferRow {
  return {
    id: t.id,
    name: t.name,
    kind: t.kind,
    // One state name in every view: a finished download serves its bytes, so it is `seeding` (as in Local Models).
    state: t.state === 'done' ? 'seeding' : t.state,
    progress: Math.min(1, Math.max(0, t.progress)),
    size: t.size,
    downloadRate: t.downloadRate,
    uploadRate: t.uploadRate,
    peers: t.peers,
    fromPeers: t.fromPeers ?? 0,
    etaSeconds: t.etaSeconds ?? null,
    verified: t.verified ?? null,
    error: t.error ?? null,
    webBytes: t.webBytes ?? null,
    peerBytes: t.peerBytes ?? null,
    system: isSystemTransfer(t),
  };
}

export class TransfersView implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly id = 'silmaril.transfers';
  private view?: vscode.WebviewView;
  private readonly disposables: vscode.Disposable[] = [];
  /** The last state posted, for tests and for a view that reappears. */
  last?: HostMessage;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly core: () => UiCore | undefined,
    private readonly engineState: () => HostMessage['engine'],
    private readonly onAction: (m: WebviewMessage) => Promise<void>,
    private readonly log: vscode.LogOutputChannel,
    /** Setting `silmaril.showSystemTransfers`. */
    private readonly showSystem: () => boolean = () => false,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    // The page's script is the esbuild bundle of src/webview/transfers.ts.
    const script = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [media, script] };
    view.webview.html = this.html(view.webview, media, script);
    this.disposables.push(
      view.webview.onDidReceiveMessage(async (raw) => {
        const msg = parseWebviewMessage(raw);
        if (!msg) {
          this.log.warn(`transfers view: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
          return;
        }
        if (msg.type === 'ready') return this.post();
        try {
          await this.onAction(msg);
        } catch (err) {
          void vscode.window.showErrorMessage(`Silmaril: ${(err as Error).message}`);
        }
        this.post();
      }),
      view.onDidChangeVisibility(() => view.visible && this.post()),
      view.onDidDispose(() => (this.view = undefined)),
    );
  }

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  /** Sends the current state; cheap enough for the once-a-second stats tick, skipped while hidden. */
  post(): void {
    const core = this.core();
    const msg: HostMessage = {
      type: 'state',
      transfers: core?.started ? shownTransfers(core.transfers(), this.showSystem()).map(toRow) : [],
      tracker: core?.trackerStatus() ?? { running: false, torrents: 0, seeders: 0, leechers: 0 },
      trusted: vscode.workspace.isTrusted,
      engine: this.engineState(),
    };
    this.last = msg;
    if (this.view?.visible) void this.view.webview.postMessage(msg);
  }

  private html(webview: vscode.Webview, media: vscode.Uri, script: vscode.Uri): string {
    const nonce = randomBytes(16).toString('base64');
    const css = webview.asWebviewUri(vscode.Uri.joinPath(media, 'transfers.css'));
    const js = webview.asWebviewUri(vscode.Uri.joinPath(script, 'transfers.js'));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<title>Transfers</title>
</head>
<body>
<div id="notice" class="notice" hidden></div>
<section id="tracker" class="tracker" aria-label="Embedded tracker"></section>
<ul id="list" class="list" aria-label="Transfers"></ul>
<div id="empty" class="empty" hidden>
<p>No transfers yet. Share a model folder so peers can download it, or download a model from the catalog.</p>
<p class="actions"><button type="button" class="action primary" data-action="shareFolder">Share a Folder</button>
<button type="button" class="action" data-action="downloadModel">Download a Model</button></p>
</div>
<script nonce="${nonce}" src="${js}"></script>
</body>
</html>`;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
