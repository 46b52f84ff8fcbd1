// bittorrent-dht ships no types; the catalog uses it through the narrow Dht interface in src/catalog/pointers.ts.
declare module 'bittorrent-dht' {
  const DHT: any;
  export default DHT;
}
