// The one layout of a home's state files (docs/architecture.md, "State files"). Every part of a node finds its files
// here, whichever face (the `silmaril` command or the editor) built the node.
import { access, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export interface HomeLayout {
  home: string;
  /** Who runs the node of this home (pid, kind): the one-node-per-home lock. */
  lock: string;
  /** How to reach the running node's control API: port and token (mode 0600). */
  nodeJson: string;
  /** The embedded tracker's registry (torrents, entries, stats). */
  trackerDb: string;
  /** Where downloads go when no folder is named, and where `list` looks for models. */
  models: string;
}

export function homeLayout(home: string): HomeLayout {
  return {
    home,
    lock: join(home, 'node.lock'),
    nodeJson: join(home, 'node.json'),
    trackerDb: join(home, 'tracker.db'),
    models: join(home, 'models'),
  };
}

/** Names older versions used: the editor kept the tracker registry in `tracker.sqlite`, the CLI in `tracker.db`. */
const RENAMED: [old: string, now: keyof HomeLayout][] = [['tracker.sqlite', 'trackerDb']];

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Creates the home and moves state files from their old names (never over a file that exists under the new one). */
export async function prepareHome(home: string, log?: Logger): Promise<HomeLayout> {
  const layout = homeLayout(home);
  await mkdir(home, { recursive: true });
  for (const [old, now] of RENAMED) {
    const from = join(home, old);
    const to = layout[now];
    if (!(await exists(from))) continue;
    if (await exists(to)) {
      log?.warn(`${from} is left as is: ${to} exists (the tracker registry now lives there)`);
      continue;
    }
    await rename(from, to);
    log?.info(`moved ${from} to ${to}`);
  }
  return layout;
}
