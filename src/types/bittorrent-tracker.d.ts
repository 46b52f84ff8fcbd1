// bittorrent-tracker ships no types; the swarm counter (src/catalog/swarm-counts.ts) uses its client's scrape.
declare module 'bittorrent-tracker' {
  export const Client: any;
}
