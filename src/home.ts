// Where Silmaril keeps its state (identity, resume data, catalog store, tracker db): never inside a user's folders.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `--home DIR`, else `$SILMARIL_HOME`, else `~/.silmaril`. */
export function resolveHome(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (option) return resolve(option);
  if (env.SILMARIL_HOME) return resolve(env.SILMARIL_HOME);
  return join(homedir(), '.silmaril');
}

/** The state folder's name, left out of shares by default. */
export const STATE_DIR_NAME = '.silmaril';
