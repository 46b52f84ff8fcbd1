// HTTP announce (BEP 3, compact BEP 23, peers6 BEP 7) and scrape (BEP 48). Failures are HTTP 200 with a
// bencoded `failure reason`, as clients expect. Kept lean: one pass over the query, map lookups, one buffer out.
import type { ServerResponse } from 'node:http';
import bencode from 'bencode';
import { announceReply, type AnnounceFigures } from './announce-reply.js';
import type { TrackerCore } from './core.js';
import { decodeBytes, decodeInto, decodeUint, forEachParam, forEachParamAt, keyIs } from './query.js';
import { EVENT_COMPLETED, EVENT_NONE, EVENT_STARTED, EVENT_STOPPED, type Peer, type Swarm } from './swarm.js';

/** The requesting client as the tracker lists it. */
export interface ClientAddress {
  ip: string;
  /** 4 or 16 bytes. */
  bytes: Buffer;
  v6: boolean;
}

const failureCache = new Map<string, Buffer>();

/** A bencoded `{failure reason}` (constant reasons are encoded once). */
export function failureBody(reason: string): Buffer {
  let b = failureCache.get(reason);
  if (b === undefined) {
    b = Buffer.from(bencode.encode({ 'failure reason': reason }));
    if (failureCache.size < 256) failureCache.set(reason, b);
  }
  return b;
}

export function sendBencoded(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(body.length)]);
  res.end(body);
}

export function sendFailure(core: TrackerCore, res: ServerResponse, reason: string): void {
  core.metrics.announceFailures++;
  sendBencoded(res, failureBody(reason));
}

// Parsed announce parameters, reused: requests are handled one at a time on the event loop.
// Decoded values land in one scratch buffer (no allocation per request); only their strings are kept.
const scratch = Buffer.allocUnsafe(33);
let pHash = '';
let pPeerId = '';
let pPort = -1;
let pLeft = -2;
let pEvent = EVENT_NONE;
let pBadEvent = false;
let pNumwant = -1;
let pCompact = true;
let pBad = '';
let pUrl = '';

function visitAnnounce(ks: number, ke: number, start: number, end: number): void {
  const url = pUrl;
  switch (url.charCodeAt(ks)) {
    case 105: // i
      if (keyIs(url, ks, ke, 'info_hash') && pHash === '') {
        const n = decodeInto(url, start, end, scratch);
        if (n === 20 || n === 32) pHash = scratch.toString('hex', 0, n);
        else pBad = 'Invalid info_hash: must be 20 bytes (v1) or 32 bytes (v2)';
      }
      return;
    case 112: // p
      if (keyIs(url, ks, ke, 'peer_id')) {
        const n = decodeInto(url, start, end, scratch);
        if (n === 20) pPeerId = scratch.toString('latin1', 0, 20);
        else pBad = 'Invalid peer_id: must be 20 bytes';
      } else if (keyIs(url, ks, ke, 'port')) {
        pPort = decodeUint(url, start, end);
      }
      return;
    case 108: // l
      if (keyIs(url, ks, ke, 'left')) {
        pLeft = decodeUint(url, start, end);
        if (pLeft < 0) pBad = 'Invalid left: must be a non-negative integer';
      }
      return;
    case 117: // u
    case 100: // d
      if (keyIs(url, ks, ke, 'uploaded') || keyIs(url, ks, ke, 'downloaded')) {
        if (start < end && decodeUint(url, start, end) < 0) {
          pBad = `Invalid ${url.slice(ks, ke)}: must be a non-negative integer`;
        }
      }
      return;
    case 101: // e
      if (keyIs(url, ks, ke, 'event')) {
        const n = end - start;
        if (n === 0) pEvent = EVENT_NONE;
        else if (n === 7 && url.startsWith('started', start)) pEvent = EVENT_STARTED;
        else if (n === 7 && url.startsWith('stopped', start)) pEvent = EVENT_STOPPED;
        else if (n === 9 && url.startsWith('completed', start)) pEvent = EVENT_COMPLETED;
        else if (n === 5 && url.startsWith('empty', start)) pEvent = EVENT_NONE;
        else pBadEvent = true;
      }
      return;
    case 110: // n
      if (keyIs(url, ks, ke, 'numwant')) pNumwant = decodeUint(url, start, end);
      return;
    case 99: // c
      if (keyIs(url, ks, ke, 'compact')) pCompact = !(end - start === 1 && url.charCodeAt(start) === 48);
      return;
  }
}

/** Handles `/announce[/<passkey>]?...` for a client whose passkey (if any is required) was already checked. */
export function handleAnnounce(core: TrackerCore, res: ServerResponse, url: string, client: ClientAddress): void {
  pHash = '';
  pPeerId = '';
  pPort = -1;
  pLeft = -2;
  pEvent = EVENT_NONE;
  pBadEvent = false;
  pNumwant = -1;
  pCompact = true;
  pBad = '';
  pUrl = url;
  forEachParamAt(url, visitAnnounce);
  // (Locals re-typed: the compiler cannot see the visitor assign these.)
  const hash = pHash as string;
  const peerId = pPeerId as string;
  if (pBad) return sendFailure(core, res, pBad);
  if (hash === '' || peerId === '' || pPort === -1) {
    return sendFailure(core, res, 'Missing required parameters (info_hash, peer_id, port)');
  }
  if (pPort < 1 || pPort > 65535) return sendFailure(core, res, 'Invalid port: must be 1-65535');
  if (pBadEvent) return sendFailure(core, res, 'Invalid event: must be started, stopped, completed or empty');
  const left = pLeft === -2 ? 0 : pLeft;

  const found = core.swarmFor(hash);
  if (typeof found === 'string') return sendFailure(core, res, found);
  const swarm: Swarm = found;
  const key = peerId + '@' + client.ip;
  if (!core.hasRoom && pEvent !== EVENT_STOPPED && !swarm.peers.has(key)) {
    return sendFailure(core, res, 'tracker is full, try again later');
  }
  core.metrics.announces++;
  const cfg = core.config;
  const self = swarm.announce(
    key,
    peerId,
    client.bytes,
    client.v6,
    pPort,
    left,
    pEvent,
    Date.now() + cfg.peerTtl * 1000,
  );
  core.afterAnnounce(swarm);

  let want = pNumwant < 0 ? cfg.maxPeers : Math.min(pNumwant, cfg.maxPeers);
  if (pEvent === EVENT_STOPPED) want = 0;
  // A seeder has no use for other seeders, but listing them is harmless and keeps the reply simple.
  if (pCompact) {
    return sendBencoded(res, announceReply(swarm, self, want, cfg.interval, cfg.minInterval));
  }
  const listed = swarm.pick(false, self, want);
  listed.push(...swarm.pick(true, self, want - listed.length));
  const f = figuresOf(swarm, cfg);
  sendBencoded(
    res,
    Buffer.from(
      bencode.encode({
        complete: f.complete,
        downloaded: f.downloaded,
        incomplete: f.incomplete,
        interval: f.interval,
        'min interval': f.minInterval,
        peers: listed.map((p) => dictPeer(swarm, p)),
      }),
    ),
  );
}

function figuresOf(swarm: Swarm, cfg: { interval: number; minInterval: number }): AnnounceFigures {
  return {
    complete: swarm.seeders,
    downloaded: swarm.downloaded,
    incomplete: swarm.leechers,
    interval: cfg.interval,
    minInterval: cfg.minInterval,
  };
}

function dictPeer(swarm: Swarm, p: Peer): { ip: string; 'peer id': Buffer; port: number } {
  const a = swarm.address(p);
  const ipLen = p.v6 ? 16 : 4;
  let ip: string;
  if (!p.v6) ip = `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  else {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(a.readUInt16BE(i).toString(16));
    ip = groups.join(':');
  }
  return { ip, 'peer id': Buffer.from(p.peerId, 'latin1'), port: a.readUInt16BE(ipLen) };
}

/** Most hashes one scrape may ask about. */
const MAX_SCRAPE = 100;

/** `/scrape?info_hash=..&info_hash=..`: `files` keyed by the raw hashes asked, BEP 48. */
export function handleScrape(core: TrackerCore, res: ServerResponse, url: string): void {
  const hashes: Buffer[] = [];
  let bad = '';
  forEachParam(url, (key, start, end) => {
    if (key !== 'info_hash' || bad) return;
    const h = decodeBytes(url, start, end, 32);
    if (h === undefined || (h.length !== 20 && h.length !== 32))
      bad = 'Invalid info_hash: must be 20 bytes (v1) or 32 bytes (v2)';
    else if (hashes.length >= MAX_SCRAPE) bad = `Too many info_hash values (at most ${MAX_SCRAPE})`;
    else hashes.push(h);
  });
  if (bad) return sendFailure(core, res, bad);
  if (hashes.length === 0) return sendFailure(core, res, 'Missing info_hash (full scrapes are not served)');
  core.metrics.scrapes++;
  const files = new Map<Buffer, { complete: number; downloaded: number; incomplete: number }>();
  for (const h of hashes) {
    const s = core.scrapeSwarm(h.toString('hex'));
    if (s !== undefined) files.set(h, { complete: s.seeders, downloaded: s.downloaded, incomplete: s.leechers });
  }
  sendBencoded(res, Buffer.from(bencode.encode({ files })));
}
