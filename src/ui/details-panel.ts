// Show Details: one webview panel per model with its fields, its hashes and the whole magnet link (wrapped,
// selectable, with a Copy Magnet button). Strict CSP: a nonce for the page's one style and one script; every value
// goes in as escaped text.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { CatalogModel } from './core.js';
import { formatBytes, swarmText } from './format.js';

const panels = new Map<string, vscode.WebviewPanel>();

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function detailsHtml(m: CatalogModel, trust: string, nonce: string): string {
  const swarm = swarmText(m);
  const row = (k: string, v: string, code = false) =>
    `<tr><th scope="row">${esc(k)}</th><td>${code ? `<code>${esc(v)}</code>` : esc(v)}</td></tr>`;
  const rows = [
    row('License', m.license || 'no license'),
    row('Size', `${formatBytes(m.size)}${m.files ? ` in ${m.files} file${m.files === 1 ? '' : 's'}` : ''}`),
    row('Format', m.format || 'other'),
    m.architecture ? row('Architecture', m.architecture) : '',
    m.parameters ? row('Parameters', `${(m.parameters / 1e6).toFixed(1)}M`) : '',
    m.quantization ? row('Quantization', m.quantization) : '',
    row('Swarm', `${swarm.counts}${swarm.when ? ` (${swarm.when})` : ''}`),
    trust === 'unsigned'
      ? row('Publisher', 'unsigned listing (no publisher key)')
      : row('Publisher', `${trust} · ${m.fingerprint}`),
    trust === 'unsigned' ? '' : row('Publisher key', m.publisher, true),
    m.tags.length ? row('Tags', m.tags.join(', ')) : '',
    row('Source', m.source),
    row('v1 infohash', m.v1 ?? '-', true),
    row('v2 infohash', m.v2 ?? '-', true),
  ].join('\n');
  const csp = `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<title>${esc(m.name)}</title>
<style nonce="${nonce}">
body { color: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); padding: 8px 16px; max-width: 60em; }
h1 { font-size: 1.5em; margin: 0.4em 0; }
.desc { color: var(--vscode-descriptionForeground); }
table { border-collapse: collapse; margin: 8px 0 16px; }
th { text-align: left; font-weight: 600; padding: 2px 16px 2px 0; vertical-align: top; white-space: nowrap; }
td { padding: 2px 0; overflow-wrap: anywhere; }
code, textarea { font-family: var(--vscode-editor-font-family); }
textarea { width: 100%; box-sizing: border-box; resize: vertical; min-height: 5em; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 4px; word-break: break-all; }
button { margin-top: 6px; border: none; padding: 4px 12px; background: var(--vscode-button-background); color: var(--vscode-button-foreground); cursor: pointer; font: inherit; }
button:hover { background: var(--vscode-button-hoverBackground); }
.copied { margin-left: 8px; color: var(--vscode-descriptionForeground); }
</style></head>
<body>
<h1>${esc(m.name)}</h1>
${m.description ? `<p class="desc">${esc(m.description)}</p>` : ''}
<table>${rows}</table>
<label for="magnet"><strong>Magnet link</strong></label>
<textarea id="magnet" readonly rows="4" spellcheck="false">${esc(m.magnet)}</textarea>
<div><button id="copy" type="button">Copy Magnet</button><span id="copied" class="copied" role="status"></span></div>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
const box = document.getElementById('magnet');
box.addEventListener('focus', () => box.select());
document.getElementById('copy').addEventListener('click', () => {
  vscode.postMessage({ type: 'copyMagnet' });
  document.getElementById('copied').textContent = 'copied';
});
</script>
</body></html>`;
}

/** Opens (or brings forward) the details panel of one model. */
export function showDetailsPanel(
  extensionUri: vscode.Uri,
  m: CatalogModel,
  trust: string,
  log: vscode.LogOutputChannel,
): vscode.WebviewPanel {
  const key = `${m.publisher}:${m.name}`;
  let panel = panels.get(key);
  if (!panel) {
    panel = vscode.window.createWebviewPanel('silmaril.details', m.name, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [extensionUri],
    });
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'silmaril.svg');
    panels.set(key, panel);
    panel.onDidDispose(() => panels.delete(key));
    panel.webview.onDidReceiveMessage(async (msg: unknown) => {
      if ((msg as { type?: unknown })?.type !== 'copyMagnet') return;
      await vscode.env.clipboard.writeText(m.magnet);
      log.info(`copied the magnet link of ${m.name}`);
      void vscode.window.setStatusBarMessage('$(link) Silmaril: magnet link copied', 3000);
    });
  }
  panel.webview.html = detailsHtml(m, trust, randomBytes(16).toString('base64'));
  panel.reveal();
  return panel;
}
