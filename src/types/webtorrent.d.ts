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

declare module 'ut_metadata' {
  const utMetadata: any;
  export default utMetadata;
}
