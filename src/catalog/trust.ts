// Names are not identities: anyone can sign an entry called `acme/tiny`. An entry is *signed* when its signature
// checks out (merge.ts), and *trusted* only when its publisher is a key the user chose to trust: listed in
// `<home>/trusted-keys.json` (the CLI's `--trust`, `silmaril discover --trust-add`) or in the editor's
// `silmaril.trustedPublishers` setting. A key is named by its full 64-hex public key or its full fingerprint
// (`3f2a:91c0:7d44:e801`); prefixes are refused, since grinding a key to match a short prefix is cheap.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fingerprint } from './identity.js';
import { writeFileAtomic } from '../shared/atomic-file.js';

export const TRUST_FILE = 'trusted-keys.json';

const KEY_RE = /^[0-9a-f]{64}$/;
const FINGERPRINT_RE = /^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/;

/** A trusted key as the user wrote it, normalised: a lower-case hex key or fingerprint; undefined if neither. */
export function normaliseTrustedKey(s: string): string | undefined {
  const t = s.trim().toLowerCase();
  if (KEY_RE.test(t) || FINGERPRINT_RE.test(t)) return t;
  if (/^[0-9a-f]{16}$/.test(t)) return t.match(/.{4}/g)!.join(':');
  return undefined;
}

/** The set of keys the user trusts, matched against a publisher's full key or its fingerprint. */
export class TrustList {
  readonly keys = new Set<string>();
  readonly fingerprints = new Set<string>();

  constructor(items: Iterable<string> = []) {
    for (const item of items) {
      const k = normaliseTrustedKey(item);
      if (!k) continue;
      if (KEY_RE.test(k)) this.keys.add(k);
      else this.fingerprints.add(k);
    }
  }

  get size(): number {
    return this.keys.size + this.fingerprints.size;
  }

  /** Does the user trust this publisher (hex key)? */
  has(publisher: string, fp?: string): boolean {
    if (!KEY_RE.test(publisher)) return false;
    return (
      this.keys.has(publisher) || (this.fingerprints.size > 0 && this.fingerprints.has(fp ?? fingerprint(publisher)))
    );
  }
}

/** Reads `<home>/trusted-keys.json` (`{"keys": [...]}`); none yet is an empty list; a damaged file is named. */
export async function readTrustedKeys(home: string): Promise<string[]> {
  const path = join(home, TRUST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  let keys: unknown;
  try {
    keys = JSON.parse(text)?.keys;
  } catch {
    keys = undefined;
  }
  if (!Array.isArray(keys)) throw new Error(`${path} is damaged: expected {"keys": [...]}`);
  return keys.map((k) => (typeof k === 'string' ? normaliseTrustedKey(k) : undefined)).filter((k) => k !== undefined);
}

/** Adds (or with `remove`, removes) keys in `<home>/trusted-keys.json`; returns the new list. */
export async function updateTrustedKeys(home: string, add: string[], remove: string[] = []): Promise<string[]> {
  const bad = [...add, ...remove].filter((k) => !normaliseTrustedKey(k));
  if (bad.length) {
    throw new Error(
      `not a publisher key or fingerprint: ${bad.join(', ')} (give the full 64-hex key or xxxx:xxxx:xxxx:xxxx)`,
    );
  }
  const gone = new Set(remove.map((k) => normaliseTrustedKey(k)!));
  const keys = [...new Set([...(await readTrustedKeys(home)), ...add.map((k) => normaliseTrustedKey(k)!)])].filter(
    (k) => !gone.has(k),
  );
  await writeFileAtomic(join(home, TRUST_FILE), JSON.stringify({ keys }, null, 2) + '\n');
  return keys;
}
