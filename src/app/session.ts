// How a command reaches the node of its home: through the control API of the node that runs it (a daemon or an
// editor), or by running one in this process for the length of the command.
import type { NodeApi } from './api.js';
import { ControlClient } from './control-client.js';
import { AppNode, type AppNodeOptions } from './node.js';

export interface Session {
  api: NodeApi;
  /** Set when this process runs the node (no other node ran the home). */
  local?: AppNode;
  /** Stops the node this process started (nothing for a remote one). */
  close(): Promise<void>;
}

/** The running node of `options.home` when there is one; otherwise an AppNode started here with `options`. */
export async function useNode(options: AppNodeOptions, opts: { start?: boolean } = {}): Promise<Session> {
  const remote = await ControlClient.connect(options.home);
  if (remote) return { api: remote, close: async () => {} };
  const local = new AppNode(options);
  if (opts.start ?? true) await local.start();
  else await local.openCatalog();
  return { api: local, local, close: () => local.stop() };
}
