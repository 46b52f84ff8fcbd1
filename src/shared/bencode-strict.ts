// The one strict bencode reader for untrusted input (torrents, metadata from peers, catalog files).
//
// The `bencode` package's decoder is unfit for hostile bytes: it re-keys dictionaries into plain objects (a
// `__proto__` entry vanishes, duplicate keys silently overwrite, non-UTF-8 keys turn into hex), recurses without a
// depth limit, accepts non-canonical integers and truncated input, and allocates one object per value with no cap (a
// 1.7 KB brotli bomb of 120 million empty strings took a daemon's heap to 5 GB). This reader keeps every dictionary
// key as its raw bytes, refuses duplicates, returns byte strings as views into the input (no copies), and stops at
// stated limits: input size, nesting depth and the number of values, counted as it reads, so a bomb is refused after
// `maxItems` values rather than after building all of them. (`bencode` still encodes: that is deterministic and safe.)

/** A decoded dictionary: keys are the raw key bytes as latin1 strings (lossless), in the order they appeared. */
export class BDict {
  constructor(readonly map: Map<string, BValue>) {}
  get(key: string): BValue | undefined {
    return this.map.get(key);
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
}
export type BValue = number | Uint8Array | BValue[] | BDict;

export class BencodeError extends Error {
  override name = 'BencodeError';
}

export interface StrictLimits {
  /** Lists and dictionaries nested deeper than this are refused (default 200). */
  maxDepth?: number;
  /** Values (integers, strings, lists, dictionaries, keys not counted) read before refusing (default unbounded). */
  maxItems?: number;
  /** Input bytes accepted (default unbounded: the caller bounds what it read). */
  maxBytes?: number;
  /** Names the input in messages: "truncated <what>: ..." (default "bencode"). */
  what?: string;
  /** Raises an error of the caller's type (default BencodeError). */
  fail?: (message: string) => never;
}

export const DEFAULT_MAX_DEPTH = 200;

export interface StrictReader {
  data: Uint8Array;
  pos: number;
  items: number;
  readonly maxDepth: number;
  readonly maxItems: number;
  readonly what: string;
  readonly fail: (message: string) => never;
}

export function strictReader(data: Uint8Array, limits: StrictLimits = {}, pos = 0): StrictReader {
  const fail =
    limits.fail ??
    ((message: string): never => {
      throw new BencodeError(message);
    });
  const what = limits.what ?? 'bencode';
  if (limits.maxBytes !== undefined && data.length > limits.maxBytes) {
    fail(`${what} is ${data.length} bytes, over the ${limits.maxBytes}-byte limit`);
  }
  return {
    data,
    pos,
    items: 0,
    maxDepth: limits.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxItems: limits.maxItems ?? Infinity,
    what,
    fail,
  };
}

function count(r: StrictReader): void {
  if (++r.items > r.maxItems) r.fail(`${r.what} holds more than ${r.maxItems} values`);
}

export function readInt(r: StrictReader, end: number): number {
  // i<digits>e, no leading zeros, no -0: the canonical form is the only one (libtorrent is as strict).
  const d = r.data;
  let i = r.pos + 1;
  const start = i;
  let neg = false;
  if (d[i] === 0x2d) {
    neg = true;
    i++;
  }
  const digitsStart = i;
  while (i < end && d[i] >= 0x30 && d[i] <= 0x39) i++;
  if (i >= end) r.fail('malformed bencode: unterminated integer');
  if (d[i] !== 0x65) r.fail(`malformed bencode: bad character in integer at byte ${i}`);
  const digits = i - digitsStart;
  if (digits === 0) r.fail(`malformed bencode: empty integer at byte ${start - 1}`);
  if (digits > 1 && d[digitsStart] === 0x30)
    r.fail(`malformed bencode: integer with leading zero at byte ${start - 1}`);
  if (neg && digits === 1 && d[digitsStart] === 0x30) r.fail(`malformed bencode: negative zero at byte ${start - 1}`);
  // Never a JS number past 2^53: a value that cannot be held exactly is refused, not rounded.
  if (digits > 16) r.fail(`integer too large at byte ${start - 1}`);
  let n = 0;
  for (let k = digitsStart; k < i; k++) n = n * 10 + (d[k] - 0x30);
  if (!Number.isSafeInteger(n)) r.fail(`integer too large at byte ${start - 1}`);
  r.pos = i + 1;
  return neg ? -n : n;
}

export function readBytes(r: StrictReader, end: number): Uint8Array {
  const d = r.data;
  let i = r.pos;
  const start = i;
  while (i < end && d[i] >= 0x30 && d[i] <= 0x39) i++;
  if (i === start) r.fail(`malformed bencode: unexpected byte 0x${(d[start] ?? 0).toString(16)} at byte ${start}`);
  if (i >= end || d[i] !== 0x3a) r.fail(`malformed bencode: bad string length at byte ${start}`);
  if (i - start > 1 && d[start] === 0x30) r.fail(`malformed bencode: string length with leading zero at byte ${start}`);
  if (i - start > 10) r.fail(`malformed bencode: string too long at byte ${start}`);
  let len = 0;
  for (let k = start; k < i; k++) len = len * 10 + (d[k] - 0x30);
  const from = i + 1;
  if (from + len > end) r.fail(`truncated ${r.what}: string at byte ${start} runs past the end`);
  r.pos = from + len;
  return d.subarray(from, from + len);
}

const latin1 = new TextDecoder('latin1');

/** Reads a dictionary key (a byte string) as a lossless latin1 string. */
export function readKey(r: StrictReader, end: number): string {
  const keyPos = r.pos;
  if (r.data[keyPos] < 0x30 || r.data[keyPos] > 0x39) {
    r.fail(`malformed bencode: dictionary key is not a string at byte ${keyPos}`);
  }
  return latin1.decode(readBytes(r, end));
}

/** Reads the next key of a dictionary (readKey) and refuses one already in `seen`: a duplicate key. */
export function readNewKey(r: StrictReader, end: number, seen: { has(key: string): boolean }): string {
  const keyPos = r.pos;
  const key = readKey(r, end);
  if (seen.has(key)) r.fail(`malformed bencode: duplicate dictionary key ${JSON.stringify(key)} at byte ${keyPos}`);
  return key;
}

export function readValue(r: StrictReader, end: number, depth: number): BValue {
  if (r.pos >= end) r.fail(`truncated ${r.what}: unexpected end of data`);
  count(r);
  const c = r.data[r.pos];
  if (c === 0x69) return readInt(r, end);
  if (c === 0x6c || c === 0x64) {
    if (depth >= r.maxDepth) r.fail(`${r.what} nested deeper than ${r.maxDepth} levels`);
    r.pos++;
    if (c === 0x6c) {
      const list: BValue[] = [];
      for (;;) {
        if (r.pos >= end) r.fail(`truncated ${r.what}: unterminated list`);
        if (r.data[r.pos] === 0x65) break;
        list.push(readValue(r, end, depth + 1));
      }
      r.pos++;
      return list;
    }
    const map = new Map<string, BValue>();
    for (;;) {
      if (r.pos >= end) r.fail(`truncated ${r.what}: unterminated dictionary`);
      if (r.data[r.pos] === 0x65) break;
      const key = readNewKey(r, end, map);
      map.set(key, readValue(r, end, depth + 1));
    }
    r.pos++;
    return new BDict(map);
  }
  return readBytes(r, end);
}

/** Decodes a whole bencoded buffer strictly (no trailing bytes), within `limits`. */
export function decodeStrict(data: Uint8Array, limits: StrictLimits = {}): BValue {
  const r = strictReader(data, limits);
  const v = readValue(r, data.length, 0);
  if (r.pos !== data.length) r.fail(`malformed bencode: ${data.length - r.pos} trailing bytes after the data`);
  return v;
}
