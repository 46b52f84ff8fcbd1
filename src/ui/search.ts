// The catalog search box's syntax: words, plus `license:`, `format:`, `tag:` (repeatable) and `publisher:` filters.
// No vscode here, so `npm test` reaches it.
import type { SearchQuery } from '../app/types.js';

export function parseSearch(text: string): SearchQuery {
  const q: SearchQuery = {};
  const words: string[] = [];
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(license|format|tag|publisher):(.+)$/i.exec(token);
    if (!m) words.push(token);
    else if (m[1].toLowerCase() === 'tag') (q.tags ??= []).push(m[2].toLowerCase());
    else q[m[1].toLowerCase() as 'license' | 'format' | 'publisher'] = m[2];
  }
  if (words.length) q.text = words.join(' ');
  return q;
}
