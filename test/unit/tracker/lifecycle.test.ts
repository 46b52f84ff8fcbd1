// Starting and stopping the tracker as the editor does: a failed start leaves nothing behind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tracker } from '../../../src/tracker/tracker.js';

describe('tracker lifecycle', () => {
  it('a port already taken is a clear error, and the tracker can start elsewhere afterwards', async () => {
    const first = new Tracker({ port: 0, rateLimit: false });
    const { port } = await first.start();
    const second = new Tracker({ port, rateLimit: false });
    try {
      await assert.rejects(second.start(), /EADDRINUSE|cannot serve UDP/);
      assert.equal(second.address(), undefined);
      const third = new Tracker({ port: 0, rateLimit: false });
      assert.ok((await third.start()).port > 0);
      await third.stop();
    } finally {
      await first.stop();
    }
  });
});
