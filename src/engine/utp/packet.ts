// uTP packets (BEP 29): the 20-byte header, the selective-ack extension, and the 16-bit sequence arithmetic.
// Everything here is pure: decode() never throws on hostile bytes, it returns undefined.

export const ST_DATA = 0;
export const ST_FIN = 1;
export const ST_STATE = 2;
export const ST_RESET = 3;
export const ST_SYN = 4;
export type PacketType = 0 | 1 | 2 | 3 | 4;

export const VERSION = 1;
export const HEADER_SIZE = 20;
const EXT_NONE = 0;
const EXT_SACK = 1;
/** libutp's "extension bits" (8 bytes, all zero from us): see EXT_MAX_DATAGRAM for why we send it. */
const EXT_BITS = 2;
/**
 * Our own extension (BEP 29 lets a receiver skip extensions it does not know; libtorrent and libutp do): "I read
 * datagrams up to this many bytes", as a u16 followed by two zero bytes. Sent on the SYN and on the ST_STATE that
 * answers it. libtorrent reads at most 1,500 bytes per datagram and silently truncates the rest, so packets larger
 * than DEFAULT_PACKET_SIZE go only to a peer that said it reads them. 77 is unused by BEP 29 (1), libutp (2) and
 * libtorrent (3, close reason).
 *
 * It is never the header's first extension: libutp (Transmission, µTorrent, utp-native) takes a packet whose first
 * extension type is 3 or more for its old version-0 format and answers gibberish (seen against Transmission 3.00).
 * Without a SACK first, libutp's own EXT_BITS (8 zero bytes) goes first and ours is chained after it.
 */
export const EXT_MAX_DATAGRAM = 77;
/** The most any peer is assumed to read: an Ethernet MTU less IPv4 and UDP headers (libtorrent reads 1,500 bytes). */
export const DEFAULT_PACKET_SIZE = 1472;
/** The largest UDP payload over IPv4. */
export const MAX_DATAGRAM = 65507;
/** Our SACK bitmask covers ack_nr+2 .. ack_nr+2+SACK_BITS-1 (libtorrent sends up to 32 bytes too). */
export const SACK_BYTES_MAX = 32;

export interface Header {
  type: PacketType;
  connId: number;
  /** Sender's clock, microseconds mod 2^32. */
  timestamp: number;
  /** Sender's view of (its clock - our timestamp) for the last packet it got from us, microseconds mod 2^32. */
  timestampDiff: number;
  /** Bytes the sender can still receive. */
  wnd: number;
  seq: number;
  ack: number;
  /** Selective-ack bitmask: bit i (LSB first in each byte) = packet ack+2+i received. */
  sack?: Uint8Array;
  /** Our extension (EXT_MAX_DATAGRAM): the largest datagram the sender reads. */
  maxDatagram?: number;
}

export interface Packet {
  header: Header;
  payload: Buffer;
}

/** Writes the 20-byte header (no extension) at the start of `buf`. */
export function writeHeader(buf: Buffer, h: Header, extension = EXT_NONE): void {
  buf[0] = (h.type << 4) | VERSION;
  buf[1] = extension;
  buf.writeUInt16BE(h.connId & 0xffff, 2);
  buf.writeUInt32BE(h.timestamp >>> 0, 4);
  buf.writeUInt32BE(h.timestampDiff >>> 0, 8);
  buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(h.wnd))), 12);
  buf.writeUInt16BE(h.seq & 0xffff, 16);
  buf.writeUInt16BE(h.ack & 0xffff, 18);
}

/** Bytes the header and its extensions take (the payload starts there). */
export function headerLength(h: Header): number {
  return HEADER_SIZE + (h.sack ? 2 + h.sack.length : 0) + (h.maxDatagram ? (h.sack ? 6 : 16) : 0);
}

/** Builds one datagram: header, optional SACK and max-datagram extensions, then the payload. */
export function encodePacket(h: Header, payload?: Uint8Array): Buffer {
  const payloadLen = payload ? payload.length : 0;
  const buf = Buffer.allocUnsafe(headerLength(h) + payloadLen);
  const at = writeHeaderAndExtensions(buf, h);
  if (payloadLen) buf.set(payload!, at);
  return buf;
}

/** Writes the header and its extensions at the start of `buf`; returns where the payload starts. */
export function writeHeaderAndExtensions(buf: Buffer, h: Header): number {
  const sackLen = h.sack ? h.sack.length : 0;
  const exts: number[] = [];
  if (sackLen) exts.push(EXT_SACK);
  if (h.maxDatagram) {
    if (!sackLen) exts.push(EXT_BITS);
    exts.push(EXT_MAX_DATAGRAM);
  }
  writeHeader(buf, h, exts.length ? exts[0] : EXT_NONE);
  let at = HEADER_SIZE;
  for (let i = 0; i < exts.length; i++) {
    buf[at++] = i + 1 < exts.length ? exts[i + 1] : EXT_NONE; // next extension
    if (exts[i] === EXT_SACK) {
      buf[at++] = sackLen;
      buf.set(h.sack!, at);
      at += sackLen;
    } else if (exts[i] === EXT_BITS) {
      buf[at++] = 8;
      buf.fill(0, at, at + 8);
      at += 8;
    } else {
      buf[at++] = 4;
      buf.writeUInt16BE(Math.min(0xffff, h.maxDatagram!), at);
      buf.writeUInt16BE(0, at + 2);
      at += 4;
    }
  }
  return at;
}

/** Parses a datagram; undefined when it is not a well-formed uTP v1 packet. Unknown extensions are skipped. */
export function decodePacket(buf: Buffer): Packet | undefined {
  if (buf.length < HEADER_SIZE) return undefined;
  const type = buf[0] >> 4;
  if ((buf[0] & 0x0f) !== VERSION || type > ST_SYN) return undefined;
  let ext = buf[1];
  let at = HEADER_SIZE;
  let sack: Uint8Array | undefined;
  let maxDatagram: number | undefined;
  // Each extension: [next type][length][bytes]. Bounded by the datagram, so a hostile chain ends quickly.
  while (ext !== EXT_NONE) {
    if (at + 2 > buf.length) return undefined;
    const next = buf[at];
    const len = buf[at + 1];
    if (at + 2 + len > buf.length) return undefined;
    if (ext === EXT_SACK) {
      // BEP 29 says a multiple of 4 bytes; libtorrent sends as few bytes as its bitmask needs (1 and up).
      if (len === 0) return undefined;
      sack = buf.subarray(at + 2, at + 2 + len);
    } else if (ext === EXT_MAX_DATAGRAM && len >= 2) {
      maxDatagram = buf.readUInt16BE(at + 2);
    }
    at += 2 + len;
    ext = next;
  }
  return {
    header: {
      type: type as PacketType,
      connId: buf.readUInt16BE(2),
      timestamp: buf.readUInt32BE(4),
      timestampDiff: buf.readUInt32BE(8),
      wnd: buf.readUInt32BE(12),
      seq: buf.readUInt16BE(16),
      ack: buf.readUInt16BE(18),
      sack,
      ...(maxDatagram ? { maxDatagram } : {}),
    },
    payload: buf.subarray(at),
  };
}

/** a < b in 16-bit sequence space (the shorter way round the circle). */
export function seqLess(a: number, b: number): boolean {
  return a !== b && ((b - a) & 0xffff) < 0x8000;
}

/** b - a in 16-bit sequence space, as a signed number. */
export function seqDiff(b: number, a: number): number {
  const d = (b - a) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}

export function seqAdd(a: number, n: number): number {
  return (a + n) & 0xffff;
}

/** Microseconds, mod 2^32, on a monotonic clock. */
export function nowMicros(): number {
  return Math.floor(performance.now() * 1000) >>> 0;
}

/** Builds the SACK bitmask for packets received beyond ack+1 (`has(seq)`), or undefined when there are none. */
export function buildSack(ack: number, maxAhead: number, has: (seq: number) => boolean): Uint8Array | undefined {
  const bits = Math.min(maxAhead, SACK_BYTES_MAX * 8);
  let last = -1;
  for (let i = 0; i < bits; i++) if (has(seqAdd(ack, 2 + i))) last = i;
  if (last < 0) return undefined;
  const bytes = Math.ceil((last + 1) / 32) * 4;
  const out = new Uint8Array(bytes);
  for (let i = 0; i <= last; i++) if (has(seqAdd(ack, 2 + i))) out[i >> 3] |= 1 << (i & 7);
  return out;
}

/** The sequence numbers a SACK bitmask marks as received. */
export function sackedSeqs(ack: number, sack: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < sack.length * 8; i++) if (sack[i >> 3] & (1 << (i & 7))) out.push(seqAdd(ack, 2 + i));
  return out;
}
