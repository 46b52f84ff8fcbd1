// Through the fences src/engine/internals.ts and bittorrent-protocol.ts: WebTorrent 3.0.21 /
// bittorrent-protocol 5.0.9 / ut_metadata 5.0.1 internals, patched per client, per torrent
// and per wire (one prototype method only: MSE#extractInfoHashFromXor, below, which just records its result), so
// that one torrent answers to two 20-byte infohashes (BEP 52):
//   - WebTorrent#get (client): an incoming handshake's infohash is also looked up among the torrents' aliases;
//   - Torrent#_addIncomingPeer, Peer#onHandshake, Wire#handshake: a peer that greeted us with the alias is attached
//     to the torrent, and our reply carries the very 20 bytes it sent (libtorrent checks them);
//   - Torrent#_processParsedTorrent: a torrent joined by its truncated v2 hash keeps that hash as its own when the
//     metadata arrives (WebTorrent would switch to the SHA-1 of the info dict), its v1 hash becoming the alias;
//   - WebTorrent#_getByHash (client) and the MSE encryptor's extractInfoHashFromXor (bittorrent-protocol's
//     MessageStreamEncryptor, reached through a Wire's _encryptor: the package exports only Wire): an encrypted
//     connection (BEP 8 / MSE, which libtorrent tries first) names the torrent by HASH('req2', SKEY); with the alias
//     as SKEY the torrent is found and the RC4 keys are derived from the alias (Wire#setInfoHash, per wire);
//   - Torrent#addPeer, client.dht (bittorrent-dht 11, public API): the alias is announced and looked up on the DHT;
//   - the ut_metadata extension's setMetadata/_infoHash: metadata fetched by a truncated v2 hash is checked as
//     SHA-256(info) == the full v2 hash (btmh magnet) or its first 20 bytes == the hash (a bare 40-hex hash)
//     instead of SHA-1(info) == the handshake's hash.
// Every patched member is checked by test/unit/engine/v2-handshake.test.ts, which fails if one disappears.
//
// Which hash a torrent is known by: a transfer added from a .torrent or a btih magnet speaks v1 (primary = v1 hash,
// alias = the first 20 bytes of its v2 hash, once known). A transfer joined by a btmh-only magnet speaks v2
// (primary = truncated v2 hash: that is what v2 peers announce on the DHT and trackers and send in handshakes;
// alias = its v1 hash once the metadata shows it). libtorrent accepts either hash of a hybrid from us.
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import {
  encryptorPrototype,
  metadataComplete,
  metadataInfoHash,
  setMetadataInfoHash,
  wrapAddIncomingPeer,
  wrapAddPeer,
  wrapGetByHash,
  wrapProcessParsedTorrent,
  type Upstream,
} from './internals.js';
import { TorrentError, type ParsedTorrent } from '../torrent/types.js';
import type { PeerGuard } from './peer-guard.js';
import { BlockBlame } from './v2-blame.js';
import { layerRequest, requestHashes, serveHashes, type ReadData, type TorrentHashes } from './v2-wire.js';

const ALIAS = '__silmarilAlias';

/** The first 20 bytes of a v2 infohash, hex: what v2 peers put in handshakes, DHT and tracker announces. */
export function truncatedV2(infoHashV2: string): string {
  return infoHashV2.slice(0, 40).toLowerCase();
}

/** Routes incoming handshakes that carry a torrent's alias (WebTorrent#get is what conn-pool asks). */
export function installV2Routing(client: any): void {
  if (client.__silmarilV2Routing || typeof client.get !== 'function') return;
  client.__silmarilV2Routing = true;
  recordCryptoHash();
  wrapGetByHash(client, (getByHash) => async (infoHashHash: string) => {
    const found = await getByHash(infoHashHash);
    if (found) return found;
    return client.torrents.find((t: any) => t[ALIAS] && req2(t[ALIAS]) === infoHashHash && !t.destroyed) ?? null;
  });
  const get = client.get.bind(client);
  client.get = async (id: unknown) => {
    const found = await get(id);
    if (found || typeof id !== 'string' || !/^[0-9a-fA-F]{40}$/.test(id)) return found;
    const hex = id.toLowerCase();
    return client.torrents.find((t: any) => t[ALIAS] === hex && !t.destroyed) ?? null;
  };
}

export interface V2Hooks {
  /** The transfer was joined by its truncated v2 hash (a btmh-only magnet). */
  v2Keyed: boolean;
  /** The full v2 infohash, hex, when known. */
  infoHashV2: () => string | undefined;
  /** The piece trees of the torrent, once its metadata is known. */
  hashes: () => TorrentHashes | undefined;
  parsed: () => ParsedTorrent | undefined;
  /** Reads the piece stream (serving block hashes), once the store exists. */
  read: () => ReadData | undefined;
  /** Failed pieces with several senders are settled by leaf hashes (v2-blame.ts). */
  guard?: PeerGuard;
  log?: (message: string) => void;
}

/** The peer on `wire` speaks v2 with us (it greeted with, or we dialled by, the truncated v2 hash). */
export function speaksV2(wire: any): boolean {
  return wire.__silmarilV2 === true;
}

/** Sets the other 20-byte hash a torrent answers to (undefined: none). */
export function setAlias(torrent: any, alias: string | undefined): void {
  if (alias && alias !== torrent.infoHash) torrent[ALIAS] = alias.toLowerCase();
}

/** Makes a freshly added WebTorrent torrent speak BEP 52 (see the header). Returns nothing; hooks stay per torrent. */
export function attachV2(torrent: any, hooks: V2Hooks): void {
  const v2 = hooks.infoHashV2();
  if (hooks.v2Keyed && v2) {
    const primary = truncatedV2(v2);
    wrapProcessParsedTorrent(torrent, function (this: any, process: Upstream, parsedTorrent: any) {
      if (parsedTorrent?.infoHash && parsedTorrent.infoHash !== primary) {
        const v1 = parsedTorrent.infoHash;
        parsedTorrent.infoHash = primary;
        parsedTorrent.infoHashBuffer = Buffer.from(primary, 'hex');
        this[ALIAS] = v1;
      }
      return process.call(this, parsedTorrent);
    });
  } else if (v2) setAlias(torrent, truncatedV2(v2));

  wrapAddIncomingPeer(torrent, function (this: any, addIncoming: Upstream, peer: any) {
    answerWithAlias(peer, torrent);
    return addIncoming.call(this, peer);
  });
  wrapAddPeer(torrent, function (this: any, addPeer: Upstream, ...args: unknown[]) {
    const peer = addPeer.apply(this, args);
    if (peer && typeof peer === 'object') acceptAliasReply(peer, torrent);
    return peer;
  });

  torrent.once('ready', () => {
    if (torrent[ALIAS]) announceAlias(torrent, torrent[ALIAS]);
  });

  const blame = hooks.guard
    ? new BlockBlame(
        hooks.parsed,
        hooks.hashes,
        () => (torrent.wires ?? []).filter((w: any) => speaksV2(w) && peerHasMetadata(w)),
        hooks.guard,
        hooks.log,
      )
    : undefined;
  blame?.install();
  torrent.on('wire', (wire: any) => {
    const v2 = hooks.infoHashV2();
    wire.__silmarilV2 = hooks.v2Keyed ? !wire.__silmarilAlias : !!v2 && wire.__silmarilAlias === truncatedV2(v2);
    serveHashes(
      wire,
      hooks.hashes,
      (m) => {
        if (!blame?.onAnswer(m)) hooks.hashes()?.adoptLayer(m);
      },
      (m) => blame?.onAnswer(m),
      hooks.read,
    );
    checkMetadata(wire, hooks);
  });
}

/** DHT re-announce period (as torrent-discovery's). */
const ANNOUNCE_INTERVAL_MS = 15 * 60 * 1000;

/**
 * WebTorrent announces and looks a torrent up on the DHT by its own hash only. Like libtorrent for a hybrid, do the
 * same for the alias: v2 peers given a btmh magnet look for the truncated v2 hash (and v1 peers for the v1 hash).
 */
function announceAlias(torrent: any, alias: string): void {
  const client = torrent.client;
  const dht = client?.dht;
  if (!dht || torrent.private || torrent.destroyed) return;
  const onPeer = (peer: { host: string; port: number }, infoHash: Uint8Array) => {
    if (torrent.destroyed || Buffer.from(infoHash).toString('hex') !== alias) return;
    torrent.addPeer(`${peer.host}:${peer.port}`);
  };
  dht.on('peer', onPeer);
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    if (torrent.destroyed) return;
    dht.announce(alias, client.torrentPort, () => {
      if (torrent.destroyed) return;
      timer = setTimeout(run, ANNOUNCE_INTERVAL_MS + Math.floor(Math.random() * (ANNOUNCE_INTERVAL_MS / 5)));
      timer.unref?.();
    });
  };
  run();
  torrent.once('close', () => {
    clearTimeout(timer);
    dht.removeListener('peer', onPeer);
  });
}

/**
 * Metadata from BEP 9 has no `piece layers`: ask each v2 peer, now and as they connect, for the layers we lack
 * (the whole layer with its proof; TorrentHashes.adoptLayer keeps only what reduces to the file's root).
 */
export function requestMissingLayers(torrent: any, trees: TorrentHashes, pieceLength: number): void {
  if (!trees.missing().length) return;
  const ask = (w: any) => {
    if (!speaksV2(w) || w.destroyed) return;
    for (const [root, length] of trees.missing().slice(0, 64))
      requestHashes(w, layerRequest(root, length, pieceLength));
  };
  // libtorrent disconnects a peer that sends a hash request before it has the metadata itself.
  const track = (w: any) => whenPeerHasMetadata(w, () => ask(w));
  queueMicrotask(() => (torrent.wires ?? []).forEach(track));
  torrent.on('wire', (w: any) => queueMicrotask(() => track(w)));
}

/** The peer has the torrent's metadata: it said so (BEP 9 metadata_size) or it has a piece. */
export function peerHasMetadata(wire: any): boolean {
  const size = wire.peerExtendedHandshake?.metadata_size;
  if (typeof size === 'number' && size > 0) return true;
  const pieces = wire.peerPieces;
  if (!pieces) return false;
  if (pieces.get?.(0) === true) return true;
  const buf: Uint8Array | undefined = pieces.buffer;
  return !!buf && buf.some((b) => b !== 0);
}

/** Calls `fn` once, as soon as the peer on `wire` shows it has the metadata. */
function whenPeerHasMetadata(wire: any, fn: () => void): void {
  if (peerHasMetadata(wire)) return fn();
  let done = false;
  const check = () => {
    if (done || !peerHasMetadata(wire)) return;
    done = true;
    for (const e of events) wire.removeListener(e, check);
    fn();
  };
  const events = ['extended', 'bitfield', 'have', 'have-all'];
  for (const e of events) wire.on(e, check);
}

/** HASH('req2', infohash), hex: how an MSE initiator names the torrent it wants. */
function req2(infoHash: string): string {
  return createHash('sha1')
    .update(Buffer.concat([Buffer.from('req2'), Buffer.from(infoHash, 'hex')]))
    .digest('hex');
}

let cryptoHashRecorded = false;
/** Keeps on each incoming wire the torrent hash hash its MSE handshake named (upstream only emits it). */
function recordCryptoHash(): void {
  if (cryptoHashRecorded) return;
  cryptoHashRecorded = true;
  const proto = encryptorPrototype();
  const extract = proto?.extractInfoHashFromXor;
  if (typeof extract !== 'function') return; // another version: encrypted v2 connections are refused as before
  proto.extractInfoHashFromXor = function (this: any, xorPart: Uint8Array) {
    const hh = extract.call(this, xorPart);
    if (this.wire) this.wire.__silmarilCryptoHash = hh;
    return hh;
  };
}

/** An incoming peer that sent the alias: treat it as the torrent's own hash, and reply with the alias. */
function answerWithAlias(peer: any, torrent: any): void {
  const alias: string | undefined = torrent[ALIAS];
  if (alias && peer.wire?.__silmarilCryptoHash === req2(alias)) {
    // Encrypted and named by the alias: derive the RC4 keys from it, not from the torrent's own hash. Our
    // handshake goes out as soon as the encryption is set up, before the peer's: it must carry the alias too.
    const setInfoHash = peer.wire.setInfoHash;
    peer.wire.setInfoHash = function (this: any) {
      return setInfoHash.call(this, alias);
    };
    speakAlias(peer.wire, alias);
  }
  takeAliasHandshake(peer, torrent, speakAlias);
}

/**
 * A peer we dialled may answer with the torrent's other hash: libtorrent accepts a reply carrying either hash of a
 * hybrid, and qBittorrent 4.5 (libtorrent 2.0.8) answers with the truncated v2 hash after it re-adds a torrent
 * whose metadata came by magnet. WebTorrent refused that reply ("unexpected handshake info hash"), so a silmaril
 * seed could not reach such a downloader until it dialled us itself (~11 s in the client matrix). The peer then
 * counts the connection as v2, and so do we (the wire's __silmarilV2, set from the alias on 'wire').
 */
function acceptAliasReply(peer: any, torrent: any): void {
  takeAliasHandshake(peer, torrent, (wire, alias) => {
    if (wire && !wire.__silmarilAlias) wire.__silmarilAlias = alias;
  });
}

/** Peer#onHandshake takes a handshake carrying the torrent's alias as one carrying its own hash; `onAlias` sees the
 *  wire first (our reply must carry the alias, or the wire is marked as speaking it). */
function takeAliasHandshake(peer: any, torrent: any, onAlias: (wire: any, alias: string) => void): void {
  const onHandshake = peer.onHandshake;
  if (typeof onHandshake !== 'function') return;
  peer.onHandshake = function (this: any, infoHash: string, peerId: string) {
    if (infoHash && infoHash === torrent[ALIAS] && infoHash !== torrent.infoHash) {
      onAlias(this.wire, infoHash);
      infoHash = torrent.infoHash;
    }
    return onHandshake.call(this, infoHash, peerId);
  };
}

/** Our handshake on `wire` carries `alias` (libtorrent checks the reply holds the 20 bytes it sent). */
function speakAlias(wire: any, alias: string): void {
  if (wire.__silmarilAlias) return;
  wire.__silmarilAlias = alias;
  const handshake = wire.handshake;
  wire.handshake = function (this: any, _ours: unknown, ourId: unknown, ext: unknown) {
    return handshake.call(this, alias, ourId, ext);
  };
}

/**
 * ut_metadata checks SHA-1(info) against the hash of an outgoing connection's handshake (and nothing on incoming
 * ones; the transfer checks the metadata again in any case). Under BEP 52 that hash may be a truncated v2 hash:
 * - a torrent joined by a btmh magnet: SHA-256(info) must equal the full v2 hash;
 * - a torrent added by a bare 40-hex hash (qBittorrent shows a hybrid's truncated v2 hash as its "hash"): accept
 *   metadata whose SHA-1 or whose truncated SHA-256 is that hash (20 bytes of either are as strong).
 */
function checkMetadata(wire: any, hooks: V2Hooks): void {
  const ext = wire.ut_metadata;
  if (!ext || typeof ext.setMetadata !== 'function') return;
  const setMetadata = ext.setMetadata;
  ext.setMetadata = async function (this: any, metadata: Uint8Array) {
    if (metadataComplete(this)) return true;
    // The info dict's bytes as upstream will hash them (it pulls `info` out of a whole .torrent).
    let info = metadata;
    try {
      const whole = bencode.decode(metadata);
      if (whole?.info) info = bencode.encode(whole.info);
    } catch {
      // not bencoded: upstream's own check refuses it
    }
    const v1 = createHash('sha1').update(info).digest('hex');
    if (metadata === this.metadata) {
      // Received from this peer: exactly the info dict's bytes.
      const v2 = createHash('sha256').update(metadata).digest('hex');
      const expected = metadataInfoHash(this) || wire.__silmarilInfoHash || wire.__silmarilPeerInfoHash;
      if (hooks.v2Keyed) {
        if (v2 !== hooks.infoHashV2()) return false;
      } else if (expected && v1 !== expected && truncatedV2(v2) !== expected) return false;
    }
    // Checked above, or the torrent's own (already checked) metadata: upstream's SHA-1 check (and the wire fence's
    // infohash, which it fills in when none is set) must pass.
    setMetadataInfoHash(this, v1);
    return setMetadata.call(this, metadata);
  };
}

/**
 * Checks BEP 9 metadata fetched for transfer `id` (a v1 hash, or a truncated v2 hash) against the hashes known:
 * a btmh-keyed transfer needs SHA-256(info) == its v2 hash; otherwise SHA-1(info) == id, or, when no v2 hash was
 * given, SHA-256(info) starting with id (a bare 40-hex hash that was a hybrid's truncated v2 hash). Returns the v2
 * hash learnt that way (the transfer is then v2-keyed), else undefined; throws a TorrentError on a mismatch.
 */
export function checkMetadataHashes(info: Uint8Array, id: string, magnetV2: string | undefined): string | undefined {
  const v2 = createHash('sha256').update(info).digest('hex');
  if (magnetV2 && id === truncatedV2(magnetV2)) {
    if (v2 !== magnetV2) throw new TorrentError(`metadata does not match the magnet's btmh ${magnetV2}`);
    return undefined;
  }
  if (createHash('sha1').update(info).digest('hex') === id) return undefined;
  if (!magnetV2 && truncatedV2(v2) === id) return v2;
  throw new TorrentError(`metadata does not match the magnet's btih ${id}`);
}

/** checkMetadataHashes as a predicate: the peer's metadata fits the transfer. */
export function metadataMatches(info: Uint8Array, id: string, magnetV2: string | undefined): boolean {
  try {
    checkMetadataHashes(info, id, magnetV2);
    return true;
  } catch {
    return false;
  }
}

/**
 * After a transfer adopted BEP 9 metadata: refuse a v2-only torrent (pieces are checked with SHA-1), make the other
 * 20-byte hash the torrent's alias (WebTorrent has just taken one of them as its own), ask for missing layers.
 */
export function metadataAdopted(torrent: any, parsed: ParsedTorrent, trees: TorrentHashes | undefined): void {
  if (!parsed.infoHashV1) {
    throw new TorrentError('this is a v2-only torrent: Silmaril needs v1 piece hashes (a hybrid or v1 torrent)');
  }
  if (parsed.infoHashV2) {
    setAlias(torrent, torrent.infoHash === parsed.infoHashV1 ? truncatedV2(parsed.infoHashV2) : parsed.infoHashV1);
  }
  if (trees) requestMissingLayers(torrent, trees, parsed.pieceLength);
}
