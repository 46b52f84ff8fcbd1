// Through the fence src/engine/internals.ts: patches private members of WebTorrent 3.0.21
// (Torrent#_startDiscovery, #discovery), torrent-discovery 11.0.21 (Discovery#tracker, #_createTracker, #complete)
// and bittorrent-tracker 11.2.3 (Client#_getAnnounceOpts).
// test/unit/tracker/announce-numbers.test.ts fails if any of them goes away or the installed versions change.
//
// Why (issue 14, item 7): WebTorrent announces `downloaded` as the bytes the torrent *has* (a seed sends its whole
// size), sends `completed` whenever the torrent becomes done (a seed does so right after it starts, so every seed
// start counts as a download in scrapes), and, once the torrent is destroyed, has no numbers at all for the
// `stopped` announce, so bittorrent-tracker sends `left=16384` (HTTP) or 2^64-1 (UDP). Here, per torrent:
// - downloaded = bytes received from peers in this session (BEP 3: "the total amount downloaded so far"),
// - left = bytes of pieces not yet verified; the last known value after the torrent is destroyed,
// - `completed` is sent only by a transfer that received data, and at most once.
// And the re-announce interval a tracker answers with is kept within [10 s, 1 day]: bittorrent-tracker took it as
// is, so an interval of 1 s meant an announce a second, and one too large for a 32-bit timer (Node then fires after
// 1 ms) made the process announce ~600 times a second, as a hostile or broken tracker pleased.

import {
  canWrapStartDiscovery,
  setAnnounceOpts,
  clampAnnounceIntervals,
  wrapCreateTracker,
  wrapStartDiscovery,
  PINNED,
  type Upstream,
} from './internals.js';

export const FENCED_VERSIONS = {
  webtorrent: PINNED.webtorrent,
  'torrent-discovery': PINNED['torrent-discovery'],
  'bittorrent-tracker': PINNED['bittorrent-tracker'],
} as const;

/** Bounds for a tracker's re-announce interval: our tracker's own (`silmaril tracker --interval`, 10-86400 s). */
export const MIN_ANNOUNCE_INTERVAL_MS = 10_000;
export const MAX_ANNOUNCE_INTERVAL_MS = 86_400_000;

/** The re-announce interval used for a tracker's answer of `ms` (not a finite number: the maximum). 0 or less is
 *  left alone: it is how the client turns re-announcing off. */
export function announceIntervalMs(ms: number): number {
  if (Number.isNaN(ms) || ms === Infinity) return MAX_ANNOUNCE_INTERVAL_MS;
  if (ms <= 0) return ms;
  return Math.min(MAX_ANNOUNCE_INTERVAL_MS, Math.max(MIN_ANNOUNCE_INTERVAL_MS, ms));
}

export interface AnnounceNumbers {
  uploaded: number;
  downloaded: number;
  /** Undefined while the size is unknown (a magnet before its metadata): the tracker client's default then. */
  left?: number;
}

/** What this module reports for `torrent` now (exported for the fence test). */
export function announceNumbers(torrent: any, last: AnnounceNumbers): AnnounceNumbers {
  if (torrent.destroyed) return last;
  const length = torrent.length;
  const known = typeof length === 'number' && Number.isFinite(length) && torrent.pieces?.length > 0;
  return {
    uploaded: torrent.uploaded ?? 0,
    downloaded: torrent.received ?? 0,
    left: known ? (torrent.done ? 0 : Math.max(length - torrent.downloaded, 0)) : undefined,
  };
}

/** Installs the numbers on one WebTorrent torrent (call right after `client.add`). False when a member this
 *  relies on is missing (another version): then WebTorrent's own numbers are left in place. */
export function fixAnnounceNumbers(torrent: any): boolean {
  if (!canWrapStartDiscovery(torrent)) return false;
  let last: AnnounceNumbers = { uploaded: 0, downloaded: 0 };
  const current = (): AnnounceNumbers => {
    last = announceNumbers(torrent, last);
    const out: AnnounceNumbers = { uploaded: last.uploaded, downloaded: last.downloaded };
    if (last.left !== undefined) out.left = last.left;
    return out;
  };
  let completedSent = false;

  const patchTracker = (tracker: any): void => {
    if (!tracker || tracker.__silmarilNumbers) return;
    tracker.__silmarilNumbers = true;
    // Replaces WebTorrent's closure, which returns nothing once the torrent is destroyed (the `stopped` case).
    setAnnounceOpts(tracker, current);
    clampAnnounceIntervals(tracker, announceIntervalMs);
  };
  const patchDiscovery = (discovery: any): void => {
    if (!discovery || discovery.__silmarilNumbers) return;
    discovery.__silmarilNumbers = true;
    patchTracker(discovery.tracker);
    // A port change makes a new tracker client (and it announces `started` at once): patch it as it is made.
    wrapCreateTracker(discovery, function (this: any, createTracker: Upstream, ...args: unknown[]) {
      const t = createTracker.apply(this, args);
      patchTracker(t);
      return t;
    });
    const complete = discovery.complete;
    discovery.complete = function (this: any, opts?: unknown) {
      // A seed, or a download whose data was already all on disk, downloaded nothing: it completed nothing.
      if (completedSent || !(torrent.received > 0)) return;
      completedSent = true;
      return complete.call(this, opts);
    };
  };

  if (torrent.discovery) patchDiscovery(torrent.discovery);
  wrapStartDiscovery(torrent, function (this: any, start: Upstream, ...args: unknown[]) {
    // The tracker client is made and announces `started` inside Discovery's constructor: the options it reads
    // then come from WebTorrent's getAnnounceOpts, which merges ours (`_getAnnounceOpts`) last.
    const r = start.apply(this, args);
    patchDiscovery(this.discovery);
    return r;
  });
  setAnnounceOpts(torrent, current);
  return true;
}
