// Errors the faces tell apart (a known error prints one line; others add a stack with SILMARIL_DEBUG).
export { TorrentError } from './tools.js';
export { HomeBusyError } from './lock.js';

/** A stop, cancel or stop-sharing asked of one of the node's own transfers (a catalog file) without `force`
 *  (409 over the control API). */
export class SystemTransferError extends Error {
  override name = 'SystemTransferError';
}
