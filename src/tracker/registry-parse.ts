// How the registry reads posted `torrent_data` (issue 14, items 3 and 4, the registry's part). The registry needs
// only what the info dictionary says (hashes, name, files, size); nothing outside it changes an infohash. So a
// torrent the strict reader refuses for something outside info (an `announce-list` that is a string or an int, a
// nested `url-list`, an int `comment`; or a hybrid without `piece layers`, which qBittorrent exports for a hybrid
// added by magnet before it completes) is read again from its info dictionary alone. Everything inside info is
// still checked as strictly as ever.
import { parseTorrent } from '../torrent/parse.js';
import type { ParsedTorrent } from '../torrent/types.js';

/** The [start, end) of the bencoded value at `i`, or undefined when malformed. Bounded by the input length. */
function skip(b: Uint8Array, i: number, depth = 0): number | undefined {
  if (i >= b.length || depth > 256) return undefined;
  const c = b[i]!;
  if (c === 0x69 /* i */) {
    const e = b.indexOf(0x65, i + 1);
    return e < 0 ? undefined : e + 1;
  }
  if (c >= 0x30 && c <= 0x39) {
    const colon = b.indexOf(0x3a, i);
    if (colon < 0 || colon - i > 20) return undefined;
    const n = Number(Buffer.from(b.subarray(i, colon)).toString('latin1'));
    if (!Number.isSafeInteger(n) || colon + 1 + n > b.length) return undefined;
    return colon + 1 + n;
  }
  if (c === 0x6c /* l */ || c === 0x64 /* d */) {
    let j = i + 1;
    while (j < b.length && b[j] !== 0x65) {
      const next = skip(b, j, depth + 1);
      if (next === undefined) return undefined;
      j = next;
    }
    return j < b.length ? j + 1 : undefined;
  }
  return undefined;
}

/** The raw bytes of the top-level `info` value, or undefined. */
export function infoBytesOf(b: Uint8Array): Uint8Array | undefined {
  if (b[0] !== 0x64) return undefined;
  let j = 1;
  while (j < b.length && b[j] !== 0x65) {
    const keyEnd = skip(b, j);
    if (keyEnd === undefined) return undefined;
    const colon = b.indexOf(0x3a, j);
    const key = Buffer.from(b.subarray(colon + 1, keyEnd)).toString('latin1');
    const valueEnd = skip(b, keyEnd);
    if (valueEnd === undefined) return undefined;
    if (key === 'info') return b.subarray(keyEnd, valueEnd);
    j = valueEnd;
  }
  return undefined;
}

/** parseTorrent, falling back to the info dictionary alone when something outside it is refused. */
export function parseForRegistry(bytes: Uint8Array): ParsedTorrent {
  try {
    return parseTorrent(bytes);
  } catch (err) {
    const info = infoBytesOf(bytes);
    if (!info) throw err;
    const wrapped = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]);
    try {
      return parseTorrent(wrapped, { infoOnly: true });
    } catch {
      throw err; // the info dictionary itself is bad: report the first fault
    }
  }
}
