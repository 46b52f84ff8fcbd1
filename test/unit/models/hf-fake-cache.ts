// A Hugging Face cache laid out exactly as huggingface_hub writes it: blobs named by etag (sha256 for LFS files, git
// blob sha1 for others), snapshots/<commit>/<path> relative links into ../../blobs (deeper for sub-folders),
// refs/<ref> holding the commit. Two revisions share blobs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { downloadFileToCacheDir } from '@huggingface/hub';

export function gitSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}
export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface FakeFile {
  path: string;
  bytes: Buffer;
  lfs?: boolean;
}

export function etagFor(f: FakeFile): string {
  return f.lfs ? sha256(f.bytes) : gitSha1(f.bytes);
}

/** Writes one revision of `repo` into `cacheDir`; returns the snapshot folder. */
export function addRevision(cacheDir: string, repo: string, commit: string, files: FakeFile[], refs: string[] = []) {
  const repoPath = path.join(cacheDir, `models--${repo.split('/').join('--')}`);
  const blobs = path.join(repoPath, 'blobs');
  const snap = path.join(repoPath, 'snapshots', commit);
  mkdirSync(blobs, { recursive: true });
  for (const f of files) {
    const etag = etagFor(f);
    writeFileSync(path.join(blobs, etag), f.bytes);
    const link = path.join(snap, ...f.path.split('/'));
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.relative(path.dirname(link), path.join(blobs, etag)), link);
  }
  for (const r of refs) {
    mkdirSync(path.join(repoPath, 'refs'), { recursive: true });
    writeFileSync(path.join(repoPath, 'refs', r), commit);
  }
  return snap;
}

/** Deterministic pseudo-random bytes. */
export function bytesOf(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export const COMMIT_A = 'a'.repeat(40);
export const COMMIT_B = 'b'.repeat(40);

/** The standard fixture: org/tiny with two revisions sharing the weights blob; files in a sub-folder too. */
export function makeFakeCache(cacheDir: string) {
  const weights: FakeFile = { path: 'model.safetensors', bytes: bytesOf(3 * 65536 + 123, 1), lfs: true };
  const config: FakeFile = { path: 'config.json', bytes: Buffer.from('{"model_type":"llama"}\n') };
  const tok: FakeFile = { path: 'tokenizer/tokenizer.json', bytes: bytesOf(40_000, 2) };
  const configB: FakeFile = { path: 'config.json', bytes: Buffer.from('{"model_type":"llama","v":2}\n') };
  addRevision(cacheDir, 'org/tiny', COMMIT_A, [config, weights, tok], []);
  addRevision(cacheDir, 'org/tiny', COMMIT_B, [configB, weights, tok], ['main']);
  return { revA: [config, weights, tok], revB: [configB, weights, tok] };
}

/**
 * Each of `files` resolves from `cacheDir` by @huggingface/hub as huggingface_hub would, offline (a Hub URL nothing
 * listens on: any network use fails), at each of `revisions` (commits, or refs read beforehand), to its bytes.
 */
export async function assertResolvesOffline(
  cacheDir: string,
  repo: string,
  files: FakeFile[],
  revisions: string[] = [COMMIT_A],
): Promise<void> {
  for (const f of files) {
    for (const revision of revisions) {
      const p = await downloadFileToCacheDir({ repo, path: f.path, revision, cacheDir, hubUrl: 'http://127.0.0.1:9' });
      assert.deepEqual(await readFile(p), f.bytes, `${f.path} at ${revision}`);
    }
  }
}
