// The catalog search box's syntax: words, plus `license:`, `format:`, `tag:` (repeatable) and `publisher:` filters.
// parseSearch reads it, formatSearch writes a query back in the same syntax (so reopening the search box shows what
// was typed: `license:mit` stays `license:mit`). No vscode here, so `npm test` reaches it.
import type { SearchQuery } from '../app/types.js';

const FILTER = /^(license|format|tag|publisher):(.+)$/i;

export function parseSearch(text: string): SearchQuery {
  const q: SearchQuery = {};
  const words: string[] = [];
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const m = FILTER.exec(token);
    if (!m) words.push(token);
    else if (m[1].toLowerCase() === 'tag') (q.tags ??= []).push(m[2].toLowerCase());
    else q[m[1].toLowerCase() as 'license' | 'format' | 'publisher'] = m[2];
  }
  if (words.length) q.text = words.join(' ');
  return q;
}

/** The inverse of parseSearch: words first, then the filters, in the box's own syntax. */
export function formatSearch(q: SearchQuery): string {
  const parts: string[] = [];
  if (q.text) parts.push(q.text.trim());
  if (q.license) parts.push(`license:${q.license}`);
  if (q.format) parts.push(`format:${q.format}`);
  for (const t of q.tags ?? []) parts.push(`tag:${t}`);
  if (q.publisher) parts.push(`publisher:${q.publisher}`);
  return parts.join(' ');
}

/** True when the query narrows the catalog (a filter or words). */
export function isFiltered(q: SearchQuery): boolean {
  return Boolean(q.text || q.license || q.format || q.publisher || q.tags?.length);
}
