// The Catalog view: models from the catalog, grouped by organisation (the `org` of `org/model`), with license, size,
// format, trust badge and seeders in the description and tooltip. Search is a query kept here and run by the core.
import * as vscode from 'vscode';
import type { CatalogModel, SearchQuery, UiCore } from './core.js';
import { formatBytes, swarmText } from './format.js';
import { formatSearch, isFiltered } from './search.js';

export type Trust = 'trusted' | 'signed' | 'unsigned';

/**
 * Trusted only when the user chose the key (the setting, or the core's trust list): the full key or the full
 * fingerprint, never a prefix (a key matching a short prefix is cheap to grind) and never the name.
 */
export function trustOf(m: CatalogModel, trustedPublishers: string[]): Trust {
  if (!(m.signed ?? m.trusted)) return 'unsigned';
  if (m.trusted && m.signed !== undefined) return 'trusted';
  const mine = [m.publisher.toLowerCase(), m.fingerprint.toLowerCase().replace(/[^0-9a-f]/g, '')];
  const wanted = trustedPublishers.map((p) => p.toLowerCase().replace(/[^0-9a-f]/g, ''));
  return wanted.some((w) => (w.length === 64 || w.length === 16) && mine.includes(w)) ? 'trusted' : 'signed';
}

/** Shown when other keys claim the same name: a name is not an identity. */
export function conflictNote(m: CatalogModel): string | undefined {
  const n = m.conflicts?.length ?? 0;
  return n ? `name also claimed by ${n} other publisher${n === 1 ? '' : 's'}` : undefined;
}

const TRUST_LABEL: Record<Trust, string> = {
  trusted: 'trusted publisher',
  signed: 'signed',
  unsigned: 'unsigned',
};

export class OrgNode {
  constructor(
    readonly org: string,
    readonly models: CatalogModel[],
  ) {}
}

export class ModelNode {
  constructor(
    readonly model: CatalogModel,
    readonly trust: Trust,
  ) {}
}

type Node = OrgNode | ModelNode;

export class CatalogTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private query: SearchQuery = {};
  /** What the user typed for the current query, shown again when the search box reopens. */
  private queryText = '';
  private models: CatalogModel[] = [];
  private loaded = false;
  private lastShown?: string;
  view?: vscode.TreeView<Node>;

  constructor(
    private readonly core: () => UiCore | undefined,
    private readonly trustedPublishers: () => string[],
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get filter(): SearchQuery {
    return this.query;
  }

  get all(): CatalogModel[] {
    return this.models;
  }

  /** The current query in the search box's syntax: exactly what was typed, else the query written back. */
  get filterText(): string {
    return this.queryText || formatSearch(this.query);
  }

  async setQuery(query: SearchQuery, text?: string): Promise<void> {
    this.query = query;
    this.queryText = text?.trim() ?? '';
    const filtered = isFiltered(query);
    await vscode.commands.executeCommand('setContext', 'silmaril.catalogFiltered', filtered);
    if (this.view) this.view.description = filtered ? describeQuery(query) : undefined;
    await this.reload();
  }

  /** Re-reads the catalog store (cheap: a local sql.js query) and redraws. */
  async reload(): Promise<void> {
    const core = this.core();
    if (!core) return;
    try {
      const models = await core.searchCatalog({ sort: 'name', limit: 2000, ...this.query });
      const shown = signature(models);
      this.models = models;
      this.loaded = true;
      // Swarm counts arrive every few seconds: redraw only when something shown changed, or a redraw would close a
      // context menu or a tooltip under the user's pointer for nothing.
      if (shown === this.lastShown) return;
      this.lastShown = shown;
    } catch (err) {
      this.log.error(`catalog search failed: ${(err as Error).message}`);
    }
    this.changed.fire(undefined);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node instanceof OrgNode) {
      const item = new vscode.TreeItem(node.org, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `org:${node.org}`;
      item.iconPath = new vscode.ThemeIcon('organization');
      item.description = `${node.models.length} model${node.models.length === 1 ? '' : 's'}`;
      item.contextValue = 'catalogOrg';
      return item;
    }
    const m = node.model;
    const short = m.name.includes('/') ? m.name.slice(m.name.indexOf('/') + 1) : m.name;
    const item = new vscode.TreeItem(short, vscode.TreeItemCollapsibleState.None);
    item.id = `model:${m.publisher}:${m.name}`;
    const swarm = swarmText(m);
    const parts = [m.license || 'no license', formatBytes(m.size), m.format || 'other', swarm.counts];
    const conflict = conflictNote(m);
    item.description = (conflict ? [`⚠ ${conflict}`, ...parts] : parts).join(' · ');
    item.iconPath = new vscode.ThemeIcon(
      node.trust === 'trusted' ? 'verified-filled' : node.trust === 'signed' ? 'package' : 'unverified',
      node.trust === 'unsigned' || (conflict && node.trust !== 'trusted')
        ? new vscode.ThemeColor('problemsWarningIcon.foreground')
        : undefined,
    );
    item.tooltip = modelTooltip(m, node.trust);
    item.contextValue = 'catalogModel';
    item.command = { command: 'silmaril.showDetails', title: 'Show Details', arguments: [node] };
    item.accessibilityInformation = {
      label: `${m.name}, ${parts.join(', ')}${swarm.when ? `, ${swarm.when}` : ''}, ${TRUST_LABEL[node.trust]}${conflict ? `, ${conflict}` : ''}`,
    };
    return item;
  }

  getChildren(node?: Node): Node[] {
    if (node instanceof ModelNode) return [];
    const trusted = this.trustedPublishers();
    if (node instanceof OrgNode) return node.models.map((m) => new ModelNode(m, trustOf(m, trusted)));
    if (!this.loaded) void this.reload();
    // A model we also know signed hides its unsigned copies (a tracker registry listing the same torrent).
    const signed = new Set(this.models.filter((m) => (m.signed ?? m.trusted) && m.v1).map((m) => m.v1));
    const groups = new Map<string, CatalogModel[]>();
    for (const m of this.models) {
      if (!(m.signed ?? m.trusted) && m.v1 && signed.has(m.v1)) continue;
      const org = m.name.includes('/') ? m.name.slice(0, m.name.indexOf('/')) : m.fingerprint;
      const list = groups.get(org) ?? [];
      list.push(m);
      groups.set(org, list);
    }
    return [...groups.keys()].sort((a, b) => a.localeCompare(b)).map((org) => new OrgNode(org, groups.get(org)!));
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** The view's description while filtered: the query in the search box's own syntax (`tiny format:gguf`). */
/** What the tree shows of a page of models (not when each was counted: the tooltip computes "N min ago" itself). */
function signature(models: CatalogModel[]): string {
  return JSON.stringify(
    models.map((m) => [
      m.publisher,
      m.name,
      m.seq,
      m.v1,
      m.license,
      m.size,
      m.files,
      m.format,
      m.signed,
      m.trusted,
      m.source,
      m.seeders,
      m.leechers,
      m.countedAt === null,
      m.conflicts,
      m.tags,
      m.description,
    ]),
  );
}

export function describeQuery(q: SearchQuery): string {
  return formatSearch(q);
}

export function modelTooltip(m: CatalogModel, trust: Trust): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.supportHtml = false;
  md.appendMarkdown(`**${escapeMd(m.name)}**  \n`);
  if (m.description) md.appendMarkdown(`${escapeMd(m.description)}\n\n`);
  md.appendMarkdown(
    `$(law) ${escapeMd(m.license || 'no license')} · $(database) ${formatBytes(m.size)}${m.files ? ` in ${m.files} file${m.files === 1 ? '' : 's'}` : ''} · ${escapeMd(m.format || 'other')}  \n`,
  );
  if (m.architecture || m.parameters) {
    md.appendMarkdown(
      `${escapeMd(m.architecture)}${m.parameters ? ` · ${(m.parameters / 1e6).toFixed(1)}M parameters` : ''}${m.quantization ? ` · ${escapeMd(m.quantization)}` : ''}  \n`,
    );
  }
  md.appendMarkdown(
    trust === 'unsigned'
      ? `$(unverified) unsigned listing: no publisher key vouches for it  \n`
      : `$(verified) ${TRUST_LABEL[trust]} · publisher \`${m.fingerprint}\`  \n`,
  );
  if (m.conflicts?.length) {
    md.appendMarkdown(
      `$(warning) **The name is also claimed by ${m.conflicts.map((c) => `\`${c.replace(/`/g, '')}\``).join(', ')}**: ` +
        `check the publisher before downloading  \n`,
    );
  }
  const swarm = swarmText(m);
  md.appendMarkdown(
    `$(person) ${swarm.counts}${swarm.when ? ` (${swarm.when})` : ''} · from ${escapeMd(m.source)}  \n`,
  );
  if (m.tags.length) md.appendMarkdown(m.tags.map(codeSpan).join(' '));
  return md;
}

/**
 * Publisher text is shown as text: the characters Markdown or HTML would act on are escaped, and nothing else (a
 * backslash before `-` or `.` shows up literally in some renderers). The core already removed control characters.
 */
export function escapeMd(s: string): string {
  return s
    .replace(/[\\`*_[\]<>|#!~$]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/^(\s*)([-+=]|\d+[.)])/gm, '$1\\$2');
}

/** Text inside a code span is literal (a backslash would show): only a backtick could end it early, so none stay. */
export function codeSpan(s: string): string {
  return `\`${s.replace(/`/g, "'")}\``;
}
