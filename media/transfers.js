// The Transfers webview's page: draws what the extension host sends ({type:'state'}), posts user actions back.
// Checks every message it receives (shape and types) before using it, builds the DOM with textContent only (no
// HTML from data), and keeps the last state with setState so the view draws at once when shown again.
// @ts-check
/* global HTMLElement */
(function () {
  const vscode = acquireVsCodeApi();
  const list = /** @type {HTMLUListElement} */ (document.getElementById('list'));
  const empty = /** @type {HTMLElement} */ (document.getElementById('empty'));
  const tracker = /** @type {HTMLElement} */ (document.getElementById('tracker'));
  const notice = /** @type {HTMLElement} */ (document.getElementById('notice'));
  const STATES = ['checking', 'metadata', 'downloading', 'seeding', 'paused', 'done', 'error'];
  const ENGINE = ['starting', 'running', 'stopped', 'untrusted', 'failed'];

  const num = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  function validRow(r) {
    return (
      r &&
      typeof r === 'object' &&
      typeof r.id === 'string' &&
      /^[0-9a-f]{40}$/.test(r.id) &&
      typeof r.name === 'string' &&
      (r.kind === 'seed' || r.kind === 'download') &&
      STATES.includes(r.state) &&
      num(r.progress) &&
      r.progress <= 1 &&
      num(r.size) &&
      num(r.downloadRate) &&
      num(r.uploadRate) &&
      num(r.peers) &&
      num(r.fromPeers) &&
      (r.etaSeconds === null || num(r.etaSeconds)) &&
      (r.verified === null || typeof r.verified === 'boolean') &&
      (r.error === null || typeof r.error === 'string') &&
      (r.webBytes == null || num(r.webBytes)) &&
      (r.peerBytes == null || num(r.peerBytes))
    );
  }
  function validState(m) {
    return (
      m &&
      typeof m === 'object' &&
      m.type === 'state' &&
      Array.isArray(m.transfers) &&
      m.transfers.every(validRow) &&
      m.tracker &&
      typeof m.tracker.running === 'boolean' &&
      num(m.tracker.torrents) &&
      num(m.tracker.seeders) &&
      num(m.tracker.leechers) &&
      (m.tracker.announceUrl === undefined || typeof m.tracker.announceUrl === 'string') &&
      typeof m.trusted === 'boolean' &&
      ENGINE.includes(m.engine)
    );
  }

  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  function bytes(n) {
    let i = 0;
    while (n >= 1024 && i < UNITS.length - 1) {
      n /= 1024;
      i++;
    }
    return `${i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${UNITS[i]}`;
  }
  function eta(s) {
    if (s === null) return '';
    if (s < 60) return `${Math.ceil(s)} s left`;
    if (s < 3600) return `${Math.floor(s / 60)} min left`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min left`;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function button(label, action, id, title) {
    const b = el('button', 'action', label);
    b.type = 'button';
    b.title = title;
    b.setAttribute('aria-label', `${title}`);
    b.dataset.action = action;
    if (id) b.dataset.id = id;
    return b;
  }

  function drawRow(r) {
    const li = el('li', `row ${r.state}`);
    li.dataset.id = r.id;
    const head = el('div', 'head');
    head.append(el('span', `kind codicon-like ${r.kind}`, r.kind === 'seed' ? '↑' : '↓'));
    head.append(el('span', 'name', r.name));
    const pct = Math.floor(r.progress * 1000) / 10;
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
    info.append(el('span', 'stats', statsText(r)));
    if (r.verified === true) info.append(el('span', 'badge ok', '✓ verified'));
    if (r.verified === false) info.append(el('span', 'badge bad', '✗ verification failed'));
    li.append(info);
    if (r.error) li.append(el('div', 'error', r.error));
    const actions = el('div', 'actions');
    if (r.state === 'paused') actions.append(button('Resume', 'resume', r.id, `Resume ${r.name}`));
    else if (r.state !== 'error') actions.append(button('Pause', 'pause', r.id, `Pause ${r.name}`));
    actions.append(button('Cancel', 'cancel', r.id, `Cancel ${r.name}`));
    actions.append(button('Reveal', 'reveal', r.id, `Reveal ${r.name} in the Explorer`));
    li.append(actions);
    return li;
  }

  function statsText(r) {
    const parts = [
      r.state,
      `${bytes(r.size)}`,
      `↓ ${bytes(r.downloadRate)}/s`,
      `↑ ${bytes(r.uploadRate)}/s`,
      `${r.peers} peer${r.peers === 1 ? '' : 's'}`,
    ];
    // What fellow downloaders (not seeds) gave: the swarm at work.
    if (r.fromPeers > 0) parts.push(`${bytes(r.fromPeers)} from peers`);
    if (r.state === 'downloading' && r.etaSeconds !== null) parts.push(eta(r.etaSeconds));
    if (r.webBytes) parts.push(`${bytes(r.webBytes)} from the Hub, ${bytes(r.peerBytes ?? 0)} from peers`);
    return parts.join(' · ');
  }

  function updateRow(li, r) {
    const pct = Math.floor(r.progress * 1000) / 10;
    li.querySelector('.pct').textContent = `${pct}%`;
    li.querySelector('.bar').setAttribute('aria-valuenow', String(pct));
    /** @type {HTMLElement} */ (li.querySelector('.fill')).style.width = `${pct}%`;
    li.querySelector('.stats').textContent = statsText(r);
  }

  function draw(m) {
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
      tracker.append(el('span', 'label', 'Embedded tracker'));
      tracker.append(el('code', 'addr', m.tracker.announceUrl || ''));
      tracker.append(
        el(
          'span',
          'counts',
          `${m.tracker.torrents} swarm${m.tracker.torrents === 1 ? '' : 's'} · ${m.tracker.seeders} seeders · ${m.tracker.leechers} leechers`,
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
    for (const li of [...list.children]) if (!keep.has(/** @type {HTMLElement} */ (li).dataset.id || '')) li.remove();
    let prev = null;
    for (const r of m.transfers) {
      const shape = `${r.state}|${r.verified}|${r.error}|${r.name}`;
      let li = /** @type {HTMLElement | null} */ (list.querySelector(`li[data-id="${r.id}"]`));
      if (li && li.dataset.shape === shape) updateRow(li, r);
      else {
        const fresh = drawRow(r);
        fresh.dataset.shape = shape;
        if (li) li.replaceWith(fresh);
        li = fresh;
      }
      const want = prev ? prev.nextElementSibling : list.firstElementChild;
      if (want !== li) {
        if (prev) prev.after(li);
        else list.prepend(li);
      }
      prev = li;
    }
    empty.hidden = m.transfers.length > 0;
  }

  document.addEventListener('click', (e) => {
    const b = /** @type {HTMLElement} */ (e.target).closest('button[data-action]');
    if (!(b instanceof HTMLElement)) return;
    const action = b.dataset.action;
    if (action === 'startTracker' || action === 'stopTracker') vscode.postMessage({ type: action });
    else if (b.dataset.id) vscode.postMessage({ type: action, id: b.dataset.id });
  });

  window.addEventListener('message', (e) => {
    if (!validState(e.data)) return; // anything else is not ours
    vscode.setState(e.data);
    draw(e.data);
  });

  const saved = vscode.getState();
  if (validState(saved)) draw(saved);
  vscode.postMessage({ type: 'ready' });
})();
