// Query-string reading for the announce path. URLSearchParams decodes as UTF-8 and would mangle the binary
// info_hash and peer_id, so these helpers percent-decode straight to bytes, and do it without allocating
// a parameter map for every request.

const HEX: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[65 + i] = 10 + i;
    t[97 + i] = 10 + i;
  }
  return t;
})();

/** Percent-decodes `s[start, end)` to bytes (`+` is a space, as in forms). Undefined when an escape is broken
 *  or the result would exceed `max` bytes. */
export function decodeBytes(s: string, start: number, end: number, max: number): Buffer | undefined {
  const out = Buffer.allocUnsafe(Math.min(end - start, max + 1));
  let n = 0;
  for (let i = start; i < end; i++) {
    if (n > max) return undefined;
    let c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 2 >= end) return undefined;
      const h = s.charCodeAt(i + 1);
      const l = s.charCodeAt(i + 2);
      const hv = h < 128 ? HEX[h] : -1;
      const lv = l < 128 ? HEX[l] : -1;
      if (hv < 0 || lv < 0) return undefined;
      c = (hv << 4) | lv;
      i += 2;
    } else if (c === 43) {
      c = 32;
    } else if (c > 127) {
      // Raw non-ASCII in a URL: node hands it over as latin1 already; anything wider is not a byte.
      if (c > 255) return undefined;
    }
    if (n >= out.length) return undefined;
    out[n++] = c;
  }
  return n > max ? undefined : out.subarray(0, n);
}

/** Percent-decodes `s[start, end)` into `out` (no allocation on the hot path); returns the byte count, or -1
 *  when an escape is broken or the value does not fit in `out`. */
export function decodeInto(s: string, start: number, end: number, out: Buffer): number {
  const max = out.length;
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 2 >= end) return -1;
      const h = s.charCodeAt(i + 1);
      const l = s.charCodeAt(i + 2);
      const hv = h < 128 ? HEX[h]! : -1;
      const lv = l < 128 ? HEX[l]! : -1;
      if (hv < 0 || lv < 0) return -1;
      c = (hv << 4) | lv;
      i += 2;
    } else if (c === 43) {
      c = 32;
    } else if (c > 255) {
      return -1;
    }
    if (n >= max) return -1;
    out[n++] = c;
  }
  return n;
}

/** Percent-decodes to a string (UTF-8), or undefined when malformed. */
export function decodeText(s: string, start: number, end: number, max = 4096): string | undefined {
  const b = decodeBytes(s, start, end, max);
  return b === undefined ? undefined : b.toString('utf8');
}

const UINT64_MAX = '18446744073709551615';

/**
 * Parses a non-negative decimal integer in `s[start, end)` up to 2^64-1 (BitTorrent's counters are uint64:
 * Transmission sends `left=9223372036854775807` for a magnet whose size it does not know yet). Values above
 * 2^53 are clamped to Number.MAX_SAFE_INTEGER, which keeps what the tracker needs of them (zero or not, order).
 * -1 when it is not a decimal integer or exceeds uint64.
 */
export function decodeUint(s: string, start: number, end: number): number {
  const n = end - start;
  if (n <= 0 || n > 20) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  if (v <= Number.MAX_SAFE_INTEGER) return v;
  // Leading zeros aside, a 20-digit value is compared with 2^64-1 as text (exact, no bigint per request).
  let first = start;
  while (first < end - 1 && s.charCodeAt(first) === 48) first++;
  const digits = end - first;
  if (digits > 20 || (digits === 20 && s.slice(first, end) > UINT64_MAX)) return -1;
  return Number.MAX_SAFE_INTEGER;
}

/**
 * Walks `key=value` pairs of the query in `url` (from the first `?`), calling `visit(key, valueStart, valueEnd)`
 * for each. Keys are compared raw: clients never percent-encode announce parameter names.
 */
export function forEachParam(url: string, visit: (key: string, start: number, end: number) => void): void {
  forEachParamAt(url, (keyStart, keyEnd, start, end) => visit(url.slice(keyStart, keyEnd), start, end));
}

/**
 * The walk behind forEachParam, without slicing the key out: `visit(keyStart, keyEnd, valueStart, valueEnd)`, for
 * the announce path, which compares keys in place.
 */
export function forEachParamAt(
  url: string,
  visit: (keyStart: number, keyEnd: number, start: number, end: number) => void,
): void {
  let i = url.indexOf('?');
  if (i < 0) return;
  i++;
  const len = url.length;
  while (i < len) {
    let amp = url.indexOf('&', i);
    if (amp < 0) amp = len;
    const eq = url.indexOf('=', i);
    if (eq >= 0 && eq < amp) visit(i, eq, eq + 1, amp);
    else if (amp > i) visit(i, amp, amp, amp);
    i = amp + 1;
  }
}

/** Whether `s[start, end)` is exactly `name`. */
export function keyIs(s: string, start: number, end: number, name: string): boolean {
  return end - start === name.length && s.startsWith(name, start);
}
