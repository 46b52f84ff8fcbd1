// What the control API's server and client share: where the API lives and `<home>/node.json`.
export const API_PREFIX = '/api/v1';
export const NODE_FILE_VERSION = 1;

/** `<home>/node.json` (mode 0600): how to reach the node that runs this home. Written once the API listens,
 *  removed when the node stops; a file left by a killed node names a dead pid and is ignored. */
export interface NodeFile {
  version: number;
  pid: number;
  /** `daemon`, `editor`, or the command running the node. */
  kind: string;
  home: string;
  /** `http://127.0.0.1:<port>/api/v1` */
  url: string;
  port: number;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Unix ms. */
  started: number;
}
