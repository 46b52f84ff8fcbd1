// The webview border and the search box, where `npm test` reaches them: what the Transfers page may post is checked
// before the host acts on it, what the host sends is checked by the page with the same module, the page's own
// formatting, and the catalog search box's filter syntax.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHostMessage, parseWebviewMessage, type HostMessage } from '../../../src/ui/messages.js';
import { formatSearch, parseSearch } from '../../../src/ui/search.js';
import { eta, rowStats, shortBytes } from '../../../src/webview/format.js';

const ID = '0123456789abcdef0123456789abcdef01234567';

describe('webview → host messages', () => {
  it('accepts the messages the page sends', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseWebviewMessage({ type: 'pause', id: ID }), { type: 'pause', id: ID });
    assert.deepEqual(parseWebviewMessage({ type: 'cancel', id: ID }), { type: 'cancel', id: ID });
    assert.deepEqual(parseWebviewMessage({ type: 'startTracker' }), { type: 'startTracker' });
  });

  it('refuses anything else', () => {
    for (const bad of [
      null,
      'pause',
      { type: 'pause' },
      { type: 'pause', id: 'not-a-hash' },
      { type: 'pause', id: ID.toUpperCase() },
      { type: 'pause', id: ID, extra: 1 },
      { type: 'eval', id: ID },
      { type: 'ready', id: ID },
      { type: 'reveal', id: `${ID}/../../etc` },
    ]) {
      assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('host → webview messages', () => {
  const row = {
    id: ID,
    name: 'acme/tiny',
    kind: 'download',
    state: 'downloading',
    progress: 0.5,
    size: 1024,
    downloadRate: 10,
    uploadRate: 0,
    peers: 2,
    fromPeers: 0,
    etaSeconds: 51,
    verified: null,
    error: null,
  };
  const state: HostMessage = {
    type: 'state',
    transfers: [row as HostMessage['transfers'][number]],
    tracker: { running: false, torrents: 0, seeders: 0, leechers: 0 },
    trusted: true,
    engine: 'running',
  };

  it('accepts the state the host sends', () => {
    assert.deepEqual(parseHostMessage(structuredClone(state)), state);
    assert.ok(parseHostMessage({ ...state, transfers: [] }));
  });

  it('refuses a state with any field of the wrong shape', () => {
    const bad: unknown[] = [
      null,
      { ...state, type: 'other' },
      { ...state, engine: 'exploded' },
      { ...state, trusted: 'yes' },
      { ...state, tracker: { running: true } },
      { ...state, transfers: [{ ...row, id: '../x' }] },
      { ...state, transfers: [{ ...row, progress: 1.5 }] },
      { ...state, transfers: [{ ...row, state: 'hacked' }] },
      { ...state, transfers: [{ ...row, peers: -1 }] },
      { ...state, transfers: [{ ...row, name: 7 }] },
      { ...state, transfers: [{ ...row, etaSeconds: undefined }] },
      { ...state, transfers: [{ ...row, webBytes: -5 }] },
    ];
    for (const b of bad) assert.equal(parseHostMessage(b), undefined, JSON.stringify(b));
  });

  it('writes sizes, rates and times the way the page shows them', () => {
    assert.equal(shortBytes(0), '0 B');
    assert.equal(shortBytes(1536), '1.50 KiB');
    assert.equal(shortBytes(300 * 1024 * 1024), '300 MiB');
    assert.equal(eta(null), '');
    assert.equal(eta(5.2), '6 s left');
    assert.equal(eta(3 * 3600 + 30 * 60), '3 h 30 min left');
    // A figure never wraps inside itself (the card wrapped "0 / peers"): non-breaking spaces within, plain between.
    const plain = (s: string) => s.replace(/\u00a0/g, ' ');
    assert.equal(
      plain(rowStats(row as HostMessage['transfers'][number])),
      'downloading · 1.00 KiB · ↓ 0 B/s · 2 peers · 51 s left',
    );
    assert.ok(rowStats(row as HostMessage['transfers'][number]).includes('2\u00a0peers'));
  });

  it('shows no rate on an idle seed or a finished download (no "↓ 1 B/s ↑ 1 B/s")', () => {
    const plain = (s: string) => s.replace(/\u00a0/g, ' ');
    const seed = { ...row, kind: 'seed', state: 'seeding', progress: 1, etaSeconds: null, peers: 0 };
    assert.equal(
      plain(rowStats({ ...seed, downloadRate: 1, uploadRate: 1 } as HostMessage['transfers'][number])),
      'seeding · 1.00 KiB · 0 peers',
    );
    assert.equal(
      plain(rowStats({ ...seed, downloadRate: 300, uploadRate: 250 } as HostMessage['transfers'][number])),
      'seeding · 1.00 KiB · 0 peers',
    );
    assert.equal(
      plain(rowStats({ ...seed, uploadRate: 2 * 1024 * 1024, peers: 3 } as HostMessage['transfers'][number])),
      'seeding · 1.00 KiB · ↑ 2.00 MiB/s · 3 peers',
    );
  });
});

describe('catalog search syntax', () => {
  it('splits words from license:, format:, tag: and publisher: filters', () => {
    assert.deepEqual(parseSearch('llama chat license:mit format:gguf tag:Code tag:q4 publisher:ab12'), {
      text: 'llama chat',
      license: 'mit',
      format: 'gguf',
      tags: ['code', 'q4'],
      publisher: 'ab12',
    });
    assert.deepEqual(parseSearch('   '), {});
  });

  it('formatSearch writes a query back in the same syntax: what was searched is what the box shows again', () => {
    for (const text of [
      'license:mit',
      'tiny format:gguf',
      'llama chat license:apache-2.0 format:safetensors tag:code tag:q4 publisher:ab12',
      'tag:text-generation',
      '',
    ]) {
      assert.equal(formatSearch(parseSearch(text)), text, text);
      assert.deepEqual(parseSearch(formatSearch(parseSearch(text))), parseSearch(text), text);
    }
    // Not "license mit" (a text search for two words) nor "tiny, gguf".
    assert.deepEqual(parseSearch(formatSearch({ license: 'mit' })), { license: 'mit' });
    assert.deepEqual(parseSearch(formatSearch({ text: 'tiny', format: 'gguf' })), { text: 'tiny', format: 'gguf' });
    assert.equal(formatSearch(parseSearch('  tiny   FORMAT:gguf ')), 'tiny format:gguf');
  });
});
