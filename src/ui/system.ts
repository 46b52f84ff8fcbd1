// The node's own transfers (the catalog files it publishes and follows, `<home>/catalogs/<hash>/catalog.bin`) are its
// business, not the user's models: the views, the status bar count and the pickers leave them out unless the user
// turns on "Show System Transfers", and nothing offers to stop them. No vscode here (unit-tested under node).
import type { LocalModelView, TransferView } from '../app/types.js';

/** A system transfer: flagged by the app layer; a node that predates the flag is recognised by the catalog path. */
export function isSystemTransfer(t: TransferView): boolean {
  const flag = (t as { system?: boolean }).system;
  if (typeof flag === 'boolean') return flag;
  return t.name === 'catalog.bin' || /[\\/]catalogs[\\/][0-9a-f]{40}([\\/]|$)/i.test(t.path);
}

export function isSystemModel(m: LocalModelView): boolean {
  return (m as { system?: boolean }).system === true || /[\\/]catalogs[\\/][0-9a-f]{40}([\\/]|$)/i.test(m.path);
}

/** The transfers a view shows: system ones only when asked for. */
export function shownTransfers(all: TransferView[], showSystem: boolean): TransferView[] {
  return showSystem ? all : all.filter((t) => !isSystemTransfer(t));
}
