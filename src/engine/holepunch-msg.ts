// BEP 55 (ut_holepunch) messages and the endpoint forms they carry. Layout, all big-endian:
//   msg_type (1) | addr_type (1: 0 = IPv4, 1 = IPv6) | addr (4 or 16) | port (2) | err_code (4)
// BEP 55 puts err_code in every message (0 when not an error); libtorrent 2.0 writes it only in error messages and
// reads the others without it, so both forms are accepted and ours always carries it (libtorrent ignores the rest).
// Decoding never throws: anything malformed (unknown type or address family, a length that fits neither form,
// port 0, an unspecified or multicast address) is undefined, and the caller drops it.

export const HP_RENDEZVOUS = 0;
export const HP_CONNECT = 1;
export const HP_ERROR = 2;
export type HolepunchType = typeof HP_RENDEZVOUS | typeof HP_CONNECT | typeof HP_ERROR;

/** BEP 55's error codes (libtorrent's hp_error). */
export const HP_ERR_NO_SUCH_PEER = 1;
export const HP_ERR_NOT_CONNECTED = 2;
export const HP_ERR_NO_SUPPORT = 3;
export const HP_ERR_NO_SELF = 4;
const ERROR_NAMES = ['', 'no such peer', 'not connected', 'no support', 'no self'];

export interface HolepunchMessage {
  type: HolepunchType;
  /** Dotted IPv4, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
  address: string;
  port: number;
  /** 0 unless type is HP_ERROR. */
  error: number;
}

export function holepunchErrorName(code: number): string {
  return ERROR_NAMES[code] || `unknown error ${code}`;
}

export function encodeHolepunch(m: HolepunchMessage): Buffer {
  const addr = parseAddress(m.address);
  if (!addr) throw new Error(`not an IP address: ${m.address}`);
  if (!Number.isInteger(m.port) || m.port < 1 || m.port > 0xffff) throw new Error(`bad port ${m.port}`);
  const buf = Buffer.alloc(2 + addr.length + 2 + 4);
  buf[0] = m.type;
  buf[1] = addr.length === 4 ? 0 : 1;
  buf.set(addr, 2);
  buf.writeUInt16BE(m.port, 2 + addr.length);
  buf.writeUInt32BE(m.type === HP_ERROR ? m.error >>> 0 : 0, 4 + addr.length);
  return buf;
}

export function decodeHolepunch(buf: Uint8Array): HolepunchMessage | undefined {
  if (buf.length < 2) return undefined;
  const type = buf[0];
  if (type !== HP_RENDEZVOUS && type !== HP_CONNECT && type !== HP_ERROR) return undefined;
  const addrLen = buf[1] === 0 ? 4 : buf[1] === 1 ? 16 : 0;
  if (!addrLen) return undefined;
  const bare = 2 + addrLen + 2;
  // With err_code (BEP 55) or, outside errors, without it (libtorrent); nothing else.
  if (buf.length !== bare + 4 && !(buf.length === bare && type !== HP_ERROR)) return undefined;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const raw = b.subarray(2, 2 + addrLen);
  const port = b.readUInt16BE(2 + addrLen);
  if (port === 0 || !usableAddress(raw)) return undefined;
  const error = buf.length === bare + 4 ? b.readUInt32BE(bare) : 0;
  if (type === HP_ERROR && error === 0) return undefined;
  return { type, address: formatAddress(raw), port, error: type === HP_ERROR ? error : 0 };
}

/** Not unspecified (0.0.0.0, ::), not multicast, not IPv4 broadcast: nothing a peer could be reached at. */
function usableAddress(raw: Uint8Array): boolean {
  if (raw.every((x) => x === 0)) return false;
  if (raw.length === 4) return raw[0] < 224 && raw[0] !== 0;
  return raw[0] !== 0xff;
}

/** 4 or 16 bytes for a textual IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4); undefined if it is neither. */
export function parseAddress(text: string): Uint8Array | undefined {
  const v4 = parseV4(text);
  if (v4) return v4;
  const v6 = parseV6(text);
  if (!v6) return undefined;
  const mapped = v6.subarray(0, 10).every((x) => x === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    // Decimal only, no leading zeros (010 is octal to some parsers): one spelling per address.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6(text: string): Uint8Array | undefined {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0].includes('.')) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Dotted IPv4, or RFC 5952 IPv6 (as Node prints remote addresses). */
export function formatAddress(raw: Uint8Array): string {
  if (raw.length === 4) return Array.from(raw).join('.');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((raw[i] << 8) | raw[i + 1]);
  // The longest run of two or more zero groups (the first of equals) becomes '::'.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** `ip:port` as WebTorrent spells peers (IPv6 in brackets). */
export function endpointKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Normalises an address as a peer reports it (IPv4-mapped IPv6 to IPv4, IPv6 to RFC 5952); undefined if bad. */
export function normaliseAddress(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const raw = parseAddress(text);
  return raw ? formatAddress(raw) : undefined;
}

/** True for loopback, private (RFC 1918, unique-local), link-local and CGNAT addresses (libtorrent's is_local). */
export function isLocalAddress(address: string): boolean {
  const raw = parseAddress(address);
  if (!raw) return false;
  if (raw.length === 4) {
    const [a, b] = raw;
    return (
      a === 127 ||
      a === 10 ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b < 128)
    );
  }
  const loopback = raw.subarray(0, 15).every((x) => x === 0) && raw[15] === 1;
  return loopback || (raw[0] & 0xfe) === 0xfc || (raw[0] === 0xfe && (raw[1] & 0xc0) === 0x80);
}
