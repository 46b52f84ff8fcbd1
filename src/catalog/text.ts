// The one sanitiser for text that came from a publisher (descriptions and other free text in entries), used by
// every face (CLI, editor views, control API): shown as plain text, with the characters that could move a terminal's
// cursor, ring its bell, hide text or reorder it removed. HTML is not stripped: it is text, and each face shows it as
// text (the editor escapes it, a terminal prints it).

// C0 controls but tab/newline/CR (made spaces below), DEL, C1 controls, and the invisible or direction-changing
// format characters: ALM, LRM/RLM, the embeddings and overrides, the isolates, zero-width space, BOM.
const REMOVE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Publisher text as one plain line: control and format characters removed, line breaks and tabs made spaces. */
export function plainText(s: string): string {
  return s
    .replace(REMOVE, '')
    .replace(/[\t\n\r]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}
