// The announce reply, bencoded by hand because it is the one message on the hot path: the generic encoder
// (bencode package) costs about 4 µs per reply here, more than the rest of the announce. The layout is fixed
// (keys in sorted order, integers and byte strings only) and a unit test checks that it decodes with the
// bencode package to exactly these fields. Every other tracker message goes through the bencode package.

export interface AnnounceFigures {
  complete: number;
  downloaded: number;
  incomplete: number;
  interval: number;
  minInterval: number;
}

import type { Peer, Swarm } from './swarm.js';

function head(f: AnnounceFigures, len4: number): string {
  return (
    `d8:completei${f.complete}e10:downloadedi${f.downloaded}e10:incompletei${f.incomplete}e` +
    `8:intervali${f.interval}e12:min intervali${f.minInterval}e5:peers${len4}:`
  );
}

/** `d8:completei..e10:downloadedi..e10:incompletei..e8:intervali..e12:min intervali..e5:peers..[6:peers6..]e` */
export function encodeAnnounceReply(f: AnnounceFigures, peers4: Buffer, peers6: Buffer): Buffer {
  const h = head(f, peers4.length);
  const mid = peers6.length > 0 ? `6:peers6${peers6.length}:` : '';
  const out = Buffer.allocUnsafe(h.length + peers4.length + mid.length + peers6.length + 1);
  let o = out.write(h, 0, 'latin1');
  if (peers4.length > 0) o += peers4.copy(out, o);
  if (peers6.length > 0) {
    o += out.write(mid, o, 'latin1');
    o += peers6.copy(out, o);
  }
  out[o] = 0x65; // 'e'
  return out;
}

/** Scratch figures for `announceReply` (requests are handled one at a time on the event loop). */
const figures: AnnounceFigures = { complete: 0, downloaded: 0, incomplete: 0, interval: 0, minInterval: 0 };

/**
 * The compact reply to an announce into `swarm`: the same bytes as `encodeAnnounceReply` with up to `want`
 * peers (IPv4 first, then IPv6) other than `self`, but written in one buffer straight from the swarm's
 * address buffers, without intermediate peer-list buffers or a figures object per request.
 */
export function announceReply(
  swarm: Swarm,
  self: Peer | undefined,
  want: number,
  interval: number,
  minInterval: number,
): Buffer {
  const k4 = swarm.compactCount(false, self, want);
  const k6 = swarm.compactCount(true, self, want - k4);
  figures.complete = swarm.seeders;
  figures.downloaded = swarm.downloaded;
  figures.incomplete = swarm.leechers;
  figures.interval = interval;
  figures.minInterval = minInterval;
  const h = head(figures, k4 * 6);
  const mid = k6 > 0 ? `6:peers6${k6 * 18}:` : '';
  const out = Buffer.allocUnsafe(h.length + k4 * 6 + mid.length + k6 * 18 + 1);
  let o = out.write(h, 0, 'latin1');
  o += swarm.compactInto(false, self, want, out, o);
  if (k6 > 0) {
    o += out.write(mid, o, 'latin1');
    o += swarm.compactInto(true, self, want - k4, out, o);
  }
  out[o] = 0x65; // 'e'
  return out;
}
