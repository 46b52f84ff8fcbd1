// Shared by the tracker tests: small hybrid torrents, announce URLs with binary parameters, bencode replies.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bencode from 'bencode';
import { createTorrent } from '../../../src/torrent/create.js';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh folder under the system temp dir, removed when the test process exits. */
export function tempDir(prefix = 'silmaril-trk-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export interface Hybrid {
  dir: string;
  torrent: Uint8Array;
  v1: string;
  v2: string;
  name: string;
  length: number;
}

/** A small two-file hybrid (v1+v2) torrent made by src/torrent; `seed` makes distinct contents. */
export async function makeHybrid(seed = 'a'): Promise<Hybrid> {
  const root = tempDir();
  const dir = join(root, `model-${seed}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ seed }));
  writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(40_000, seed));
  const t = await createTorrent(dir, { pieceLength: 16384 });
  return { dir, torrent: t.torrentBytes, v1: t.infoHashV1, v2: t.infoHashV2!, name: t.name, length: t.length };
}

/** Percent-encodes every byte, as careful clients do. */
export function pct(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += '%' + b.toString(16).padStart(2, '0');
  return s;
}

export function peerId(n: number): Buffer {
  const b = Buffer.alloc(20, 0x2d);
  b.write(`-SL0001-${String(n).padStart(12, '0')}`, 'latin1');
  return b;
}

export interface AnnounceParams {
  hash: string; // hex, 40 or 64 digits
  peer: number;
  port: number;
  left?: number;
  event?: string;
  numwant?: number;
  compact?: 0 | 1;
  path?: string;
}

export function announceUrl(base: string, p: AnnounceParams): string {
  let u =
    `${base}${p.path ?? '/announce'}?info_hash=${pct(Buffer.from(p.hash, 'hex'))}&peer_id=${pct(peerId(p.peer))}` +
    `&port=${p.port}&uploaded=0&downloaded=0&left=${p.left ?? 1000}&compact=${p.compact ?? 1}`;
  if (p.event) u += `&event=${p.event}`;
  if (p.numwant !== undefined) u += `&numwant=${p.numwant}`;
  return u;
}

/** GETs a tracker URL and decodes its bencoded body (status must be 200). */
export async function getBencoded(url: string): Promise<any> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`HTTP ${res.status} for ${url}: ${await res.text()}`);
  return bencode.decode(new Uint8Array(await res.arrayBuffer()));
}

/** GETs a JSON reply (any status). */
export async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

export function text(v: Uint8Array | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v).toString('utf8');
}

/** Ports of compact IPv4 peers. */
export function compactPorts(peers: Uint8Array): number[] {
  const b = Buffer.from(peers);
  const out: number[] = [];
  for (let i = 0; i + 6 <= b.length; i += 6) out.push(b.readUInt16BE(i + 4));
  return out.sort((a, c) => a - c);
}

export function registration(h: Hybrid, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    info_hash: h.v2,
    v1_info_hash: h.v1,
    name: h.name,
    description: 'a test model',
    publisher: 'silmaril-tests',
    license: 'MIT',
    category: 'models',
    tags: 'llm, test ,fp16',
    torrent_data: Buffer.from(h.torrent).toString('base64'),
    ...extra,
  };
}

export async function post(base: string, body: unknown, key?: string): Promise<Response> {
  return fetch(`${base}/api/registry`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key ? { 'X-Weightless-Key': key } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
