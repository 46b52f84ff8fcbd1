// What one peer may cost this node, in one place (README "Limits" repeats these). Every byte from the network is
// untrusted: these bound what a peer can make us buffer, queue or allocate, and internals.ts enforces them.

/** Largest message a peer may send (length prefix). The largest legal ones: a 16 KiB block + 13 bytes, a
 *  ut_metadata piece (16 KiB + its dict), a bitfield (1 bit per piece: 256 KiB is 2M pieces), an extended
 *  handshake. A longer prefix drops the peer before anything of it is buffered. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** Bytes a connection may have received but not yet parsed: one whole message plus one socket read. */
export const MAX_BUFFERED_BYTES = MAX_MESSAGE_BYTES + 64 * 1024;

/** Largest block a peer may request: clients ask for 16 KiB; WebTorrent has always served up to 128 KiB, so that
 *  stays (a larger request is dropped). */
export const MAX_REQUEST_BYTES = 128 * 1024;

/** Requests a peer may have outstanding with us (advertised as BEP 10 `reqq`); more are dropped (or rejected
 *  with BEP 6). Each is a 40-byte record: no data is read for a request until its peer is reading. */
export const MAX_PEER_REQUESTS = 2000;

/** Reply bytes queued for one peer (read from disk, in our buffers or the socket's): past this no more requests
 *  are read from disk for it until it reads what is queued. */
export const MAX_QUEUED_UPLOAD_BYTES = 2 * 1024 * 1024;

/** Blocks being read from disk for one peer at a time. */
export const MAX_READS_PER_PEER = 32;

/** A peer that leaves its queue full without reading for this long is choked; as long again and it is dropped. */
export const SLOW_READER_MS = 20_000;

/** Largest info dictionary accepted over BEP 9 (a 1 TB model in 4 MiB pieces has ~5 MB of piece hashes). */
export const MAX_METADATA_BYTES = 8 * 1024 * 1024;

/** Bytes of file data kept (per process, all transfers together) to serve blocks to peers. */
export const SERVE_CACHE_BYTES = 64 * 1024 * 1024;

/** Unit of a serving read: peers ask for a piece's blocks in a row, so a read covers this much of the piece
 *  (not the whole piece: a peer asking one block of each of many large pieces must not make us read them all).
 *  1 MiB, not 256 KiB: each read is a trip through libuv's thread pool (a queue lock, a wake-up, a completion on
 *  the main thread), and at 256 KiB those trips were a fifth of a seed's CPU serving one fast peer. */
export const SERVE_READ_BYTES = 1024 * 1024;

/** Serving reads (of SERVE_READ_BYTES) in flight per process; further ones wait their turn (libuv reads 4 at once). */
export const MAX_SERVE_READS = 16;

/** Connections per transfer. Past it a new peer takes the place of the connection that has exchanged no payload
 *  for longest (idle connections cannot crowd honest peers out), or is refused when every one is in use. */
export const MAX_PEERS_PER_TRANSFER = 100;
