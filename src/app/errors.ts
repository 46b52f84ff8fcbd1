// Errors the faces tell apart (a known error prints one line; others add a stack with SILMARIL_DEBUG).
export { TorrentError } from './tools.js';
export { HomeBusyError } from './lock.js';
