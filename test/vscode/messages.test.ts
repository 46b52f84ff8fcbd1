// What the Transfers webview may post is checked before the host acts on it; the catalog search box's filter syntax.
import * as assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { parseSearch } from '../../src/ui/commands.js';
import { parseWebviewMessage } from '../../src/ui/messages.js';

const ID = '0123456789abcdef0123456789abcdef01234567';

describe('webview messages', () => {
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
});
