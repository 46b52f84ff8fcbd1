// Stands in for cross-fetch-ponyfill, which on Node picks the global fetch (Node >= 18, Electron's too) but first
// imports node-fetch and its polyfills (fetch-blob, web-streams-polyfill, formdata-polyfill) for a fallback that is
// never used: ~20 ms of CPU in every process at start. Its importers (bittorrent-tracker, webtorrent, parse-torrent,
// load-ip-set) only take the default export, and only GET: src/shared/http-fetch.ts serves those over node:http
// (the global fetch, undici, cost another ~80 ms of CPU per process on its first announce).
module.exports = require('../../src/shared/http-fetch.ts').httpFetch;
