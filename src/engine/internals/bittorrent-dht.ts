// THE FENCE AROUND BITTORRENT-DHT 11.0.12 (pinned exactly in package.json; see src/engine/internals/webtorrent.ts
// for why this folder exists). test/unit/engine/internals/bittorrent-dht.test.ts fails if a member below or its
// shape goes away, or the installed version differs. Used by src/catalog/pointers.ts, dht-scrape.ts, service.ts and
// the engine. Members relied on:
//  - `_tables`, its LRU of the closest nodes found per target (kept 5 min), which put() and announce() reuse instead
//    of looking up again. A lookup made while the DHT knew no node caches an EMPTY table, so for 5 minutes every put
//    and announce of that target went to nobody ("No nodes to query") even after nodes were found: a catalog
//    published before the DHT had bootstrapped stayed unpublished although its retries ran. An empty table serves
//    the operation that made it, then is treated as none: the next put or announce looks up again
//    (forgetEmptyTables). A scrape's lookup must not leave its table behind either (keepClosestTable).
//  - `_closest(target, message, onreply, done)`: the iterative lookup, whose every reply we see (BEP 44 gets that
//    keep the best item rather than the first, BEP 33 scrapes, the catalog's rendezvous);
//  - `_rpc.id` (our node id, sent in queries) and `_rpc.query(node, message, cb)`: one query to one node;
//  - `_values` (the BEP 44 store this node answers from) and `_peers` (the peers announced to it);
//  - `_verify`: the signature check for mutable items this node stores.

export const PINNED = { 'bittorrent-dht': '11.0.12' } as const;

export const PATCHED_MEMBERS = ['_tables', '_closest', '_rpc', '_values', '_peers', '_verify'] as const;

interface Tables {
  get(key: string): { count(): number } | undefined;
  remove(key: string): void;
  __silmarilNoEmpty?: boolean;
}

/** Makes `dht` forget empty closest-node tables (see above). Returns false when the member is not there. */
export function forgetEmptyTables(dht: unknown): boolean {
  const tables = (dht as { _tables?: Tables })?._tables;
  if (!tables || typeof tables.get !== 'function' || typeof tables.remove !== 'function') return false;
  if (tables.__silmarilNoEmpty) return true;
  const get = tables.get.bind(tables);
  // put()/announce() look up, cache the table, then read it back at once: an empty table is handed out that once
  // (the operation fails with "No nodes to query", as it should) and forgotten at the next read.
  const served = new WeakSet<object>();
  tables.get = (key: string) => {
    const table = get(key);
    if (!table || typeof table.count !== 'function' || table.count() > 0) return table;
    if (!served.has(table)) {
      served.add(table);
      return table;
    }
    tables.remove(key);
    return undefined;
  };
  tables.__silmarilNoEmpty = true;
  return true;
}

/** This DHT can run our own iterative lookups (`_closest`, with an RPC socket). */
export function canLookUp(dht: any): boolean {
  return typeof dht?._closest === 'function' && !!dht._rpc;
}

/** This DHT has the lookup function (`_closest`), whatever the state of its socket. */
export function hasLookUp(dht: any): boolean {
  return typeof dht?._closest === 'function';
}

/** Our node id (sent as `id` in every query), undefined before the socket exists. */
export function nodeIdOf(dht: any): Buffer | undefined {
  return dht._rpc?.id;
}

/** Iterative lookup of `target` sending `message` to the closest nodes; `onreply(message, from)` sees every reply
 *  (return true to go on), `done(err)` ends it. Caches the nodes found as the target's table, as upstream does. */
export function lookUp(
  dht: any,
  target: Buffer,
  message: Record<string, unknown>,
  onreply: (message: any, from: any) => boolean,
  done: (err: Error | null) => void,
): void {
  dht._closest(target, message, onreply, done);
}

/** One query to one node. */
export function queryNode(
  dht: any,
  node: { host: string; port: number },
  message: Record<string, unknown>,
  cb: (err: Error | null, res: any) => void,
): void {
  dht._rpc.query(node, message, cb);
}

/** The item this node stores itself under `targetHex` (what it answers gets with), if any. */
export function storedValue(dht: any, targetHex: string): any {
  return dht._values?.get?.(targetHex);
}

/** Stores an item in this node's own BEP 44 store (it then answers gets for it). */
export function storeValue(dht: any, targetHex: string, item: Record<string, unknown>): void {
  dht._values?.set(targetHex, item);
}

/** Up to `max` compact peers announced to this node for `infohashHex`. */
export function storedPeers(dht: any, infohashHex: string, max: number): unknown[] | undefined {
  return dht._peers?.get?.(infohashHex, max);
}

/** Sets the signature check this node applies to mutable items, unless one is set already. */
export function setVerifyIfUnset(
  dht: any,
  verify: (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => boolean,
): void {
  dht._verify ??= verify;
}

/** Remembers the closest-node table of `keyHex` now, and returns what puts back exactly that later (lookUp caches a
 *  table that announce() would then trust instead of looking up). A no-op when the member is not there. */
export function keepClosestTable(dht: any, keyHex: string): () => void {
  const tables = dht._tables;
  const prior = typeof tables?.peek === 'function' ? tables.peek(keyHex) : undefined;
  return () => {
    if (typeof tables?.remove !== 'function') return;
    if (prior) tables.set(keyHex, prior);
    else tables.remove(keyHex);
  };
}
