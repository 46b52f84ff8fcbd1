// A fence around one private member of bittorrent-dht 11.0.12 (pinned exactly in package.json): `_tables`, its LRU of
// the closest nodes found per target (kept 5 min), which put() and announce() reuse instead of looking up again.
// A lookup made while the DHT knew no node caches an EMPTY table, so for 5 minutes every put and announce of that
// target went to nobody ("No nodes to query") even after nodes were found: a catalog published before the DHT had
// bootstrapped stayed unpublished although its retries ran. An empty table serves the operation that made it, then
// is treated as none: the next put or announce looks up again.
// test/unit/engine/internals/bittorrent-dht.test.ts fails if the member or its shape goes away.

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
