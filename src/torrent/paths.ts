// Path safety for everything a torrent names. A torrent is untrusted input: its file paths must never reach outside
// the folder the user chose. Two layers:
//  - sanitizePath() at parse time: every component is checked; one bad component refuses the whole torrent.
//  - safeJoin() at write time: joins onto the download root and re-checks that the result stays inside it, so a
//    path that somehow skipped parsing (or a bug) still cannot escape.
//
// Refused components: empty, `.`, `..`, any `/` or `\` (no nesting tricks inside one component), NUL, a drive
// prefix such as `C:` (absolute on Windows), names longer than 255 UTF-8 bytes (NAME_MAX), and paths deeper than
// MAX_COMPONENTS or longer than MAX_PATH_BYTES. On Windows only, reserved device names (CON, PRN, AUX, NUL, COM1-9,
// LPT1-9, with or without an extension) and names ending in a dot or space are refused too: there they open a
// device or alias another file, while on POSIX systems `aux.py` is an ordinary file that model repositories ship.
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { realpath } from 'node:fs/promises';
import { TorrentError } from './types.js';

export const MAX_COMPONENT_BYTES = 255;
export const MAX_PATH_BYTES = 4096;
export const MAX_COMPONENTS = 128;

export interface SanitizeOptions {
  /** The Go Silmaril network's model torrents put a whole slash-joined relative path in one path element (not BEP 3
   *  conformant). Tolerant mode splits each element on `/` and then sanitises the pieces. Default off. */
  tolerant?: boolean;
  /** Which platform's rules to apply (tests); defaults to the running one. */
  platform?: NodeJS.Platform;
}

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[1-9¹²³]|lpt[1-9¹²³]|conin\$|conout\$)(\..*)?$/i;
const DRIVE_PREFIX = /^[a-zA-Z]:/;

function show(component: string): string {
  return JSON.stringify(component.length > 80 ? component.slice(0, 80) + '…' : component);
}

/** Checks one path component; throws a one-line TorrentError naming the fault. */
export function checkComponent(component: unknown, platform: NodeJS.Platform = process.platform): string {
  if (typeof component !== 'string') throw new TorrentError('unsafe path: a component is not a string');
  if (component === '') throw new TorrentError('unsafe path: empty path component');
  if (component === '.' || component === '..') throw new TorrentError(`unsafe path: component ${show(component)}`);
  if (component.includes('\0')) throw new TorrentError(`unsafe path: NUL byte in component ${show(component)}`);
  if (component.includes('/')) throw new TorrentError(`unsafe path: "/" inside component ${show(component)}`);
  if (component.includes('\\')) throw new TorrentError(`unsafe path: backslash in component ${show(component)}`);
  if (DRIVE_PREFIX.test(component)) throw new TorrentError(`unsafe path: drive prefix in component ${show(component)}`);
  if (Buffer.byteLength(component, 'utf8') > MAX_COMPONENT_BYTES)
    throw new TorrentError(`unsafe path: component longer than ${MAX_COMPONENT_BYTES} bytes ${show(component)}`);
  if (platform === 'win32') {
    if (WINDOWS_DEVICE.test(component)) throw new TorrentError(`unsafe path: Windows device name ${show(component)}`);
    if (/[. ]$/.test(component))
      throw new TorrentError(`unsafe path: component ends with a dot or space ${show(component)}`);
    // eslint-disable-next-line no-control-regex
    if (/[<>:"|?*\u0001-\u001f]/.test(component))
      throw new TorrentError(`unsafe path: character not allowed on Windows in ${show(component)}`);
  }
  return component;
}

/**
 * Returns the components unchanged when every one is safe (tolerant mode: split on `/` first); throws a one-line
 * TorrentError otherwise. An empty list is refused: a file needs a name.
 */
export function sanitizePath(components: readonly string[], options: SanitizeOptions = {}): string[] {
  const platform = options.platform ?? process.platform;
  if (!Array.isArray(components)) throw new TorrentError('unsafe path: not a list of components');
  let parts: string[] = components as string[];
  if (options.tolerant) {
    parts = [];
    for (const c of components) {
      if (typeof c !== 'string') throw new TorrentError('unsafe path: a component is not a string');
      // A leading "/" would make an empty first piece: refused below like any absolute path.
      parts.push(...c.split('/'));
    }
  }
  if (parts.length === 0) throw new TorrentError('unsafe path: empty path');
  if (parts.length > MAX_COMPONENTS) throw new TorrentError(`unsafe path: more than ${MAX_COMPONENTS} components`);
  let bytes = 0;
  for (const c of parts) {
    checkComponent(c, platform);
    bytes += Buffer.byteLength(c, 'utf8') + 1;
  }
  if (bytes > MAX_PATH_BYTES) throw new TorrentError(`unsafe path: longer than ${MAX_PATH_BYTES} bytes`);
  return [...parts];
}

/** A torrent's `name`: one safe component (`..`, `/`, `` and the like are refused). */
export function sanitizeName(name: string, options: SanitizeOptions = {}): string {
  if (typeof name !== 'string' || name === '') throw new TorrentError('unsafe name: the torrent name is empty');
  try {
    return checkComponent(name, options.platform ?? process.platform);
  } catch (err) {
    throw new TorrentError((err as Error).message.replace(/^unsafe path/, 'unsafe name'));
  }
}

/**
 * Joins sanitised components onto `root` for writing and re-checks, on the resolved absolute path, that the result
 * lies strictly inside `root`. Throws TorrentError otherwise. Lexical only: see `assertRealpathInside` for links.
 */
export function safeJoin(root: string, components: readonly string[]): string {
  const parts = sanitizePath(components);
  const base = resolve(root);
  const full = resolve(base, ...parts);
  const rel = relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel))
    throw new TorrentError(`unsafe path: ${show(parts.join('/'))} resolves outside ${show(base)}`);
  return full;
}

/**
 * For callers that write into a folder that may already hold symlinks (e.g. seeding in place, resuming): resolves
 * the deepest existing ancestor of `full` through the filesystem and checks it is still inside realpath(root).
 */
export async function assertRealpathInside(root: string, full: string): Promise<void> {
  const realRoot = await realpath(root);
  let probe = resolve(full);
  for (;;) {
    try {
      const real = await realpath(probe);
      const rel = relative(realRoot, real);
      if (rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel))
        throw new TorrentError(`unsafe path: ${show(full)} leads outside ${show(root)} through a link`);
      return;
    } catch (err) {
      if (err instanceof TorrentError) throw err;
      const parent = resolve(probe, '..');
      if (parent === probe) return;
      probe = parent;
    }
  }
}
