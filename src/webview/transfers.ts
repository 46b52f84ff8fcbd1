/// <reference lib="dom" />
// The Transfers webview's page (bundled by esbuild into dist/webview/transfers.js): draws what the extension host
// sends ({type:'state'}), posts user actions back. It checks every message it receives with the same
// src/ui/messages.ts the host validates with, builds the DOM with textContent only (no HTML from data), and keeps
// the last state with setState so the view draws at once when shown again.
import { parseHostMessage, type HostMessage, type TransferRow, type WebviewMessage } from '../ui/messages.js';
import { rowStats } from './format.js';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: HostMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const list = document.getElementById('list') as HTMLUListElement;
const empty = document.getElementById('empty') as HTMLElement;
const tracker = document.getElementById('tracker') as HTMLElement;
const notice = document.getElementById('notice') as HTMLElement;

function el(tag: string, cls?: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(label: string, action: string, id: string, title: string): HTMLButtonElement {
  const b = el('button', 'action', label) as HTMLButtonElement;
  b.type = 'button';
  b.title = title;
  b.setAttribute('aria-label', title);
  b.dataset.action = action;
  if (id) b.dataset.id = id;
  return b;
}

const percent = (r: TransferRow) => Math.floor(r.progress * 1000) / 10;

function drawRow(r: TransferRow): HTMLElement {
  const li = el('li', `row ${r.state}`);
  li.dataset.id = r.id;
  const head = el('div', 'head');
  head.append(el('span', `kind codicon-like ${r.kind}`, r.kind === 'seed' ? '↑' : '↓'));
  head.append(el('span', 'name', r.name));
  const pct = percent(r);
  head.append(el('span', 'pct', `${pct}%`));
  li.append(head);
  const bar = el('div', 'bar');
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', '100');
  bar.setAttribute('aria-valuenow', String(pct));
  bar.setAttribute('aria-label', `${r.name} progress`);
  const fill = el('div', 'fill');
  fill.style.width = `${pct}%`; // CSSOM, allowed by the CSP (no inline style attribute)
  bar.append(fill);
  li.append(bar);
  const info = el('div', 'info');
  info.append(el('span', 'stats', rowStats(r)));
  if (r.verified === true) info.append(el('span', 'badge ok', '✓ verified'));
  if (r.verified === false) info.append(el('span', 'badge bad', '✗ verification failed'));
  li.append(info);
  if (r.error) li.append(el('div', 'error', r.error));
  const actions = el('div', 'actions');
  // The node's own catalog file: nothing here stops it by accident (no Pause, no Cancel).
  if (r.system) info.append(el('span', 'badge system', 'system: the catalog'));
  else if (r.state === 'paused') actions.append(button('Resume', 'resume', r.id, `Resume ${r.name}`));
  else if (r.state !== 'error') actions.append(button('Pause', 'pause', r.id, `Pause ${r.name}`));
  if (!r.system) actions.append(button('Cancel', 'cancel', r.id, `Cancel ${r.name}`));
  actions.append(button('Reveal', 'reveal', r.id, `Reveal ${r.name} in the Explorer`));
  li.append(actions);
  return li;
}

function updateRow(li: HTMLElement, r: TransferRow): void {
  const pct = percent(r);
  li.querySelector('.pct')!.textContent = `${pct}%`;
  li.querySelector('.bar')!.setAttribute('aria-valuenow', String(pct));
  (li.querySelector('.fill') as HTMLElement).style.width = `${pct}%`;
  li.querySelector('.stats')!.textContent = rowStats(r);
}

function draw(m: HostMessage): void {
  notice.hidden = true;
  if (!m.trusted) {
    notice.hidden = false;
    notice.textContent = 'Restricted Mode: nothing is shared or downloaded in an untrusted workspace.';
  } else if (m.engine === 'starting') {
    notice.hidden = false;
    notice.textContent = 'Starting the engine…';
  } else if (m.engine === 'failed') {
    notice.hidden = false;
    notice.textContent = 'The engine could not start: see Silmaril: Show Log.';
  }
  tracker.replaceChildren();
  if (m.tracker.running) {
    const t = m.tracker;
    tracker.append(el('span', 'label', 'Embedded tracker'));
    tracker.append(el('code', 'addr', t.announceUrl || ''));
    tracker.append(
      el(
        'span',
        'counts',
        `${t.torrents} swarm${t.torrents === 1 ? '' : 's'} · ${t.seeders} seeders · ${t.leechers} leechers`,
      ),
    );
    tracker.append(button('Stop', 'stopTracker', '', 'Stop the embedded tracker'));
  } else {
    tracker.append(el('span', 'label muted', 'Embedded tracker off'));
    tracker.append(button('Start', 'startTracker', '', 'Start the embedded tracker'));
  }
  // Rows are updated in place (keyed by infohash): a stats tick every second must not recreate the buttons under
  // the pointer or take the keyboard focus away. A row is rebuilt only when its shape (state, badges) changes.
  const keep = new Set(m.transfers.map((r) => r.id));
  for (const li of [...list.children] as HTMLElement[]) if (!keep.has(li.dataset.id || '')) li.remove();
  let prev: HTMLElement | null = null;
  for (const r of m.transfers) {
    const shape = `${r.state}|${r.verified}|${r.error}|${r.name}|${r.system}`;
    let li = list.querySelector<HTMLElement>(`li[data-id="${r.id}"]`);
    if (li && li.dataset.shape === shape) updateRow(li, r);
    else {
      const fresh = drawRow(r);
      fresh.dataset.shape = shape;
      if (li) li.replaceWith(fresh);
      li = fresh;
    }
    const want: Element | null = prev ? prev.nextElementSibling : list.firstElementChild;
    if (want !== li) {
      if (prev) prev.after(li);
      else list.prepend(li);
    }
    prev = li;
  }
  empty.hidden = m.transfers.length > 0 || m.engine !== 'running';
}

document.addEventListener('click', (e) => {
  const b = (e.target as HTMLElement).closest('button[data-action]');
  if (!(b instanceof HTMLElement)) return;
  const action = b.dataset.action;
  if (action === 'startTracker' || action === 'stopTracker' || action === 'shareFolder' || action === 'downloadModel')
    vscode.postMessage({ type: action });
  else if (b.dataset.id && (action === 'pause' || action === 'resume' || action === 'cancel' || action === 'reveal')) {
    vscode.postMessage({ type: action, id: b.dataset.id });
  }
});

window.addEventListener('message', (e: MessageEvent) => {
  const m = parseHostMessage(e.data);
  if (!m) return; // anything else is not ours
  vscode.setState(m);
  draw(m);
});

const saved = parseHostMessage(vscode.getState());
if (saved) draw(saved);
vscode.postMessage({ type: 'ready' });
