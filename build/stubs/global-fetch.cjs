// Stands in for cross-fetch-ponyfill, which on Node picks the global fetch (Node >= 18, Electron's too) but first
// imports node-fetch and its polyfills (fetch-blob, web-streams-polyfill, formdata-polyfill) for a fallback that is
// never used: ~20 ms of CPU in every process at start. Its importers (bittorrent-tracker, webtorrent, parse-torrent,
// load-ip-set) only take the default export. Read on each call: Node loads its fetch (undici) on first access.
module.exports = (...args) => globalThis.fetch(...args);
