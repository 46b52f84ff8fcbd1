// Which pieces a download fetches first (src/engine/file-order.ts): file patterns as a user writes them on the command
// line or in the editor's setting, turned into the picker's piece ranges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFirstFiles, firstPieceRanges, matchesFile } from '../../../src/engine/file-order.js';
import type { TorrentFile } from '../../../src/torrent/types.js';

test('a pattern without / names files by their name, anywhere in the tree; with / by their path', () => {
  assert.ok(matchesFile('config.json', ['config.json']));
  assert.ok(matchesFile('config.json', ['text_encoder', 'config.json']), 'a name matches in any folder');
  assert.ok(matchesFile('*.json', ['tokenizer_config.json']));
  assert.ok(!matchesFile('*.json', ['model.safetensors']));
  assert.ok(matchesFile('tokenizer.*', ['tokenizer.model']));
  assert.ok(!matchesFile('tokenizer.*', ['tokenizer_config.json']), '. is literal, not any character');
  assert.ok(matchesFile('README.md', ['readme.md']), 'case is ignored');
  assert.ok(matchesFile('model-0000?-of-00002.safetensors', ['model-00001-of-00002.safetensors']));
  assert.ok(matchesFile('text_encoder/*.json', ['text_encoder', 'config.json']));
  assert.ok(!matchesFile('text_encoder/*.json', ['unet', 'config.json']));
  assert.ok(!matchesFile('text_encoder/*.json', ['text_encoder', 'deep', 'config.json']), '* stops at /');
  assert.ok(matchesFile('text_encoder/**.json', ['text_encoder', 'deep', 'config.json']), '** crosses folders');
  assert.ok(matchesFile('./config.json', ['config.json']), 'a leading ./ is the root');
  assert.ok(!matchesFile('(a|b)+', ['aab']), 'regular expression characters are literal');
  assert.ok(matchesFile('(a|b)+', ['(a|b)+']));
});

const file = (name: string, offset: number, length: number, pad = false): TorrentFile => ({
  path: [name],
  offset,
  length,
  pad,
});

test('the pieces of the named files, a shared piece included, pad and empty files ignored', () => {
  const P = 100;
  const files = [
    file('config.json', 0, 30),
    file('model.safetensors', 30, 1000),
    file('.pad/70', 1030, 70, true),
    file('tokenizer.json', 1100, 250),
    file('empty.json', 1350, 0),
  ];
  assert.deepEqual(firstPieceRanges(files, P, ['*.json']), [
    [0, 0],
    [11, 13],
  ]);
  assert.deepEqual(firstPieceRanges(files, P, ['model.safetensors']), [[0, 10]], 'shares piece 0 with config.json');
  assert.deepEqual(firstPieceRanges(files, P, ['*.pad', '70']), [], 'pad files are never asked for');
  assert.deepEqual(firstPieceRanges(files, P, []), []);
  assert.deepEqual(firstPieceRanges(files, P, ['nothing.bin']), []);
});

test('patterns from outside are bounded and must be non-empty strings', () => {
  assert.equal(checkFirstFiles(['*.json', 'tokenizer.*']), undefined);
  assert.equal(checkFirstFiles([]), undefined, 'an empty list: no file first');
  assert.match(checkFirstFiles('*.json') ?? '', /list/);
  assert.match(checkFirstFiles(['']) ?? '', /empty/);
  assert.match(checkFirstFiles([' ']) ?? '', /empty/);
  assert.match(checkFirstFiles([3]) ?? '', /empty/);
  assert.match(checkFirstFiles(['x'.repeat(257)]) ?? '', /longer than 256/);
  assert.match(checkFirstFiles(Array(65).fill('a')) ?? '', /at most 64/);
});
