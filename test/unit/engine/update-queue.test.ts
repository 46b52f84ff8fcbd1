import assert from 'node:assert/strict';
import { test } from 'node:test';

import { UpdateQueue } from '../../../src/engine/update-queue.js';

/** A queue whose scheduled flushes run when the test says, recording the passes made. */
function harness() {
  const pending: (() => void)[] = [];
  const passes: string[] = [];
  const q = new UpdateQueue<string>(
    (run) => pending.push(run),
    () => passes.push('all'),
    (w) => passes.push(w),
  );
  const flush = () => {
    while (pending.length) pending.shift()!();
  };
  return { q, passes, pending, flush };
}

test('a pass asked for on behalf of one wire looks at that wire alone', () => {
  const h = harness();
  h.q.request('a');
  h.flush();
  assert.deepEqual(h.passes, ['a']);
});

test('requests within one turn are merged into one flush, each wire once', () => {
  const h = harness();
  h.q.request('a');
  h.q.request('b');
  h.q.request('a');
  assert.equal(h.pending.length, 1);
  h.flush();
  assert.deepEqual(h.passes, ['a', 'b']);
});

test('a pass asked for without a wire covers every wire, whatever else was asked in the turn', () => {
  const h = harness();
  h.q.request('a');
  h.q.request();
  h.q.request('b');
  h.flush();
  assert.deepEqual(h.passes, ['all']);
});

test('after a flush the next request schedules a new one', () => {
  const h = harness();
  h.q.request();
  h.flush();
  h.q.request('c');
  assert.equal(h.pending.length, 1);
  h.flush();
  assert.deepEqual(h.passes, ['all', 'c']);
});

test('a request made during a pass is not lost', () => {
  const pending: (() => void)[] = [];
  const passes: string[] = [];
  const q: UpdateQueue<string> = new UpdateQueue<string>(
    (run) => pending.push(run),
    () => passes.push('all'),
    (w) => {
      passes.push(w);
      if (w === 'a') q.request(); // e.g. a pass that frees a slot and asks for another look
    },
  );
  q.request('a');
  while (pending.length) pending.shift()!();
  assert.deepEqual(passes, ['a', 'all']);
});
