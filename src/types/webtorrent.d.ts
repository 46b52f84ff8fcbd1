// WebTorrent 3 and its piece helper ship no types. The engine is the only user and keeps its WebTorrent objects
// behind its own typed interfaces (src/engine/), so these stay deliberately loose.
declare module 'webtorrent' {
  const WebTorrent: any;
  export default WebTorrent;
}

declare module 'torrent-piece' {
  const Piece: any;
  export default Piece;
}

declare module 'bittorrent-protocol' {
  const Wire: any;
  export default Wire;
}

// WebTorrent's Torrent class, read by the scheduler's fence test (test/unit/engine/internals/webtorrent.test.ts).
declare module 'webtorrent/lib/torrent.js' {
  const Torrent: any;
  export default Torrent;
}

// WebTorrent's Peer class (its `secure` field, plain-first.ts), read by the same fence test.
declare module 'webtorrent/lib/peer.js' {
  const Peer: any;
  export default Peer;
}

declare module 'ut_metadata' {
  const utMetadata: any;
  export default utMetadata;
}

declare module 'ut_pex' {
  const utPex: any;
  export default utPex;
}
