// Magnet links (BEP 9, BEP 52): `magnet:?xt=urn:btih:<v1 hex>&xt=urn:btmh:1220<v2 hex>&dn=..&tr=..&ws=..&x.pe=..`.
// Values are percent-escaped with encodeURIComponent; parsing accepts `+` as a space (as libtorrent does), btih as
// 40 hex digits or 32 base32 characters, and btmh only as a SHA-256 multihash (`1220` + 64 hex digits).
import { TorrentError, type MagnetLink } from './types.js';

export interface MagnetInput {
  infoHashV1?: string;
  infoHashV2?: string;
  name?: string;
  trackers?: readonly string[];
  webSeeds?: readonly string[];
  peers?: readonly string[];
}

const HEX40 = /^[0-9a-fA-F]{40}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const BASE32_32 = /^[A-Za-z2-7]{32}$/;

/** Builds a magnet link; at least one infohash is required. Hashes come out in lower-case hex. */
export function buildMagnet(input: MagnetInput): string {
  const parts: string[] = [];
  if (input.infoHashV1 !== undefined) {
    if (!HEX40.test(input.infoHashV1))
      throw new TorrentError(`bad v1 infohash "${input.infoHashV1}": 40 hex digits expected`);
    parts.push(`xt=urn:btih:${input.infoHashV1.toLowerCase()}`);
  }
  if (input.infoHashV2 !== undefined) {
    if (!HEX64.test(input.infoHashV2))
      throw new TorrentError(`bad v2 infohash "${input.infoHashV2}": 64 hex digits expected`);
    parts.push(`xt=urn:btmh:1220${input.infoHashV2.toLowerCase()}`);
  }
  if (parts.length === 0) throw new TorrentError('a magnet link needs a v1 or v2 infohash');
  if (input.name !== undefined && input.name !== '') parts.push(`dn=${encodeURIComponent(input.name)}`);
  for (const tr of input.trackers ?? []) parts.push(`tr=${encodeURIComponent(tr)}`);
  for (const ws of input.webSeeds ?? []) parts.push(`ws=${encodeURIComponent(ws)}`);
  for (const pe of input.peers ?? []) parts.push(`x.pe=${encodeURIComponent(pe)}`);
  return `magnet:?${parts.join('&')}`;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32ToHex(s: string): string {
  const out = new Uint8Array(20);
  let bits = 0;
  let value = 0;
  let k = 0;
  for (const ch of s.toUpperCase()) {
    value = (value << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out[k++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return Buffer.from(out).toString('hex');
}

function unescape(value: string, key: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new TorrentError(`bad magnet link: "${key}" is not correctly percent-escaped`);
  }
}

/** Parses a magnet link; throws a one-line TorrentError for anything that is not a usable BitTorrent magnet. */
export function parseMagnet(uri: string): MagnetLink {
  if (typeof uri !== 'string') throw new TorrentError('bad magnet link: not a string');
  const trimmed = uri.trim();
  if (!/^magnet:\?/i.test(trimmed)) throw new TorrentError('bad magnet link: it must start with "magnet:?"');
  const link: MagnetLink = { trackers: [], webSeeds: [], peers: [] };
  const otherXt: string[] = [];
  const query = trimmed.slice('magnet:?'.length).split('#')[0];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    // BEP 9 allows numbered keys (`tr.1`, `xt.2`); `x.pe` is a key of its own.
    const key = rawKey === 'x.pe' ? rawKey : rawKey.replace(/\.\d+$/, '');
    if (eq < 0) {
      if (['xt', 'dn', 'tr', 'ws', 'x.pe'].includes(key))
        throw new TorrentError(`bad magnet link: "${rawKey}" has no value`);
      continue;
    }
    const value = unescape(pair.slice(eq + 1), rawKey);
    switch (key) {
      case 'xt': {
        const m = /^urn:(btih|btmh):(.*)$/i.exec(value);
        if (!m) {
          otherXt.push(value);
          break;
        }
        const scheme = m[1].toLowerCase();
        const hash = m[2];
        if (scheme === 'btih') {
          let v1: string;
          if (HEX40.test(hash)) v1 = hash.toLowerCase();
          else if (BASE32_32.test(hash)) v1 = base32ToHex(hash);
          else
            throw new TorrentError(`bad magnet link: btih "${hash}" is neither 40 hex digits nor 32 base32 characters`);
          if (link.infoHashV1 !== undefined && link.infoHashV1 !== v1)
            throw new TorrentError('bad magnet link: two different v1 infohashes');
          link.infoHashV1 = v1;
        } else {
          if (!/^1220/i.test(hash))
            throw new TorrentError(`bad magnet link: btmh "${hash.slice(0, 8)}…" is not a SHA-256 multihash (1220...)`);
          const v2 = hash.slice(4);
          if (!HEX64.test(v2)) throw new TorrentError('bad magnet link: btmh must be 1220 followed by 64 hex digits');
          if (link.infoHashV2 !== undefined && link.infoHashV2 !== v2.toLowerCase())
            throw new TorrentError('bad magnet link: two different v2 infohashes');
          link.infoHashV2 = v2.toLowerCase();
        }
        break;
      }
      case 'dn':
        link.name = value;
        break;
      case 'tr':
        if (value && !link.trackers.includes(value)) link.trackers.push(value);
        break;
      case 'ws':
        if (value && !link.webSeeds.includes(value)) link.webSeeds.push(value);
        break;
      case 'x.pe':
        if (!/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):\d{1,5}$/.test(value))
          throw new TorrentError(`bad magnet link: peer "${value}" is not HOST:PORT`);
        if (!link.peers.includes(value)) link.peers.push(value);
        break;
      default:
        // Other keys (xl, as, xs, kt, so, ...) are optional hints: ignored.
        break;
    }
  }
  if (link.infoHashV1 === undefined && link.infoHashV2 === undefined) {
    if (otherXt.length) throw new TorrentError(`bad magnet link: not a BitTorrent magnet (xt=${otherXt[0]})`);
    throw new TorrentError('bad magnet link: no xt=urn:btih: or xt=urn:btmh: infohash');
  }
  return link;
}

/** What `silmaril get` was given. A v2 hash becomes a btmh-only magnet (joining by btmh is the engine's job). */
export type DownloadSource =
  | { kind: 'magnet'; magnet: string; link: MagnetLink }
  | { kind: 'torrent'; path: string }
  | { kind: 'v1'; infoHash: string }
  | { kind: 'v2'; infoHash: string; magnet: string };

/**
 * Classifies a download argument: a magnet link, a .torrent path (when `isFile(arg)`), 40 hex digits (v1 infohash)
 * or 64 (v2 infohash). Anything else is a one-line TorrentError that says what was expected. An existing file wins
 * over the hash forms (a file may be named like a hash).
 */
export function classifySource(arg: string, isFile: (path: string) => boolean): DownloadSource {
  const s = arg.trim();
  if (/^magnet:/i.test(s)) return { kind: 'magnet', magnet: s, link: parseMagnet(s) };
  if (isFile(arg)) return { kind: 'torrent', path: arg };
  if (HEX40.test(s)) return { kind: 'v1', infoHash: s.toLowerCase() };
  if (HEX64.test(s)) {
    const infoHash = s.toLowerCase();
    return { kind: 'v2', infoHash, magnet: buildMagnet({ infoHashV2: infoHash }) };
  }
  if (/^[0-9a-fA-F]+$/.test(s) && s.length >= 16)
    throw new TorrentError(
      `"${show(s)}" has ${s.length} hex digits: an infohash has 40 (v1) or 64 (v2); or give a magnet link or a .torrent file`,
    );
  if (/\.torrent$/i.test(s) || s.includes('/') || s.includes('\\'))
    throw new TorrentError(`no such torrent file: ${show(s)}`);
  throw new TorrentError(
    `"${show(s)}" is not a magnet link, a .torrent file, a 40-hex v1 infohash or a 64-hex v2 infohash`,
  );
}

function show(s: string): string {
  // One line, bounded: the argument may be anything.
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return flat.length > 100 ? flat.slice(0, 100) + '…' : flat;
}
