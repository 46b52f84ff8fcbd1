// Hugging Face Hub repository ids, shared by the catalog (signed entries), the engine (Hub web seed) and the cache.

/** `name` or `org/name`, letters, digits, `.`, `_`, `-`. */
export const HF_REPO_RE = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/** A Hub repository id; `--` and `..` are refused as the Hub refuses them (`--` would break cache folder names). */
export function isHfRepoId(s: string): boolean {
  return HF_REPO_RE.test(s) && !/--|\.\./.test(s);
}
