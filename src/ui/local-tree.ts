// The Local Models view: model folders in the workspace and the models directory, joined with the engine's
// transfers to show each one's sharing state (seeding, paused, downloading, not shared), peers and upload rate.
import { basename, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { LocalModelView, TransferView, UiCore } from './core.js';
import { listHfCache, type CachedRepo } from '../app/tools.js';
import { formatBytes, formatRate, RATE_FLOOR } from './format.js';
import { isSystemModel, isSystemTransfer, shownTransfers } from './system.js';

export type SharingState = 'seeding' | 'paused' | 'downloading' | 'notShared';

export class LocalNode {
  constructor(
    readonly path: string,
    readonly model: LocalModelView | undefined,
    readonly transfer: TransferView | undefined,
    /** A repository of the Hugging Face cache (path = its models--org--name folder). */
    readonly hf?: CachedRepo,
  ) {}

  get name(): string {
    if (this.hf) return this.hf.repo;
    return this.model?.name ?? this.transfer?.name ?? basename(this.path);
  }

  /** The node's own catalog file (shown only with Show System Transfers; never offered Stop). */
  get system(): boolean {
    return this.transfer ? isSystemTransfer(this.transfer) : this.model ? isSystemModel(this.model) : false;
  }

  get state(): SharingState {
    const t = this.transfer;
    if (!t) return 'notShared';
    if (t.state === 'paused') return 'paused';
    if (t.kind === 'download' && t.state !== 'done' && t.state !== 'seeding') return 'downloading';
    return 'seeding';
  }
}

export class LocalTree implements vscode.TreeDataProvider<LocalNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<LocalNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private models: LocalModelView[] = [];
  private hfRepos: CachedRepo[] = [];
  private scanning?: Promise<void>;
  private queued?: Promise<void>;
  private lastShown?: string;
  nodes: LocalNode[] = [];

  constructor(
    private readonly core: () => UiCore | undefined,
    private readonly roots: () => string[],
    private readonly log: vscode.LogOutputChannel,
    /** Setting `silmaril.showSystemTransfers`: list the node's catalog files too. */
    private readonly showSystem: () => boolean = () => false,
  ) {}

  private transfers(core: UiCore): TransferView[] {
    return core.started ? shownTransfers(core.transfers(), this.showSystem()) : [];
  }

  /** Scans the disk again (model folders come and go), then redraws. */
  rescan(): Promise<void> {
    const core = this.core();
    if (!core) return Promise.resolve();
    // A scan in flight may have read the disk before the change this call is about (a model just written, a cache
    // just filled): one more scan runs after it, shared by every call made meanwhile.
    if (this.scanning) {
      return (this.queued ??= this.scanning.then(() => {
        this.queued = undefined;
        return this.rescan();
      }));
    }
    this.scanning = Promise.all([core.localModels(this.roots()), listHfCache().catch(() => ({ repos: [] }))])
      .then(
        ([models, hf]) => {
          this.models = models;
          this.hfRepos = hf.repos;
        },
        (err: Error) => this.log.error(`local model scan failed: ${err.message}`),
      )
      .finally(() => {
        this.scanning = undefined;
        this.redrawAll();
      });
    return this.scanning;
  }

  /** Redraws with fresh transfer stats (no disk access). */
  refresh(): void {
    // Called on every stats tick: redraw only when something shown changed, so an idle tree stays still (a redraw
    // under an open context menu or a hover is a flicker for nothing).
    const core = this.core();
    const shown = (core ? this.transfers(core) : [])
      .map(
        (t) =>
          `${t.id}:${t.state}:${t.peers}:${Math.round(t.uploadRate / 512)}:${Math.round(t.downloadRate / 512)}:${Math.floor(t.progress * 100)}`,
      )
      .join(',');
    if (shown === this.lastShown) return;
    this.lastShown = shown;
    this.changed.fire(undefined);
  }

  /** Redraws whatever changed (the model list itself changed). */
  private redrawAll(): void {
    this.lastShown = undefined;
    this.changed.fire(undefined);
  }

  getTreeItem(node: LocalNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.None);
    item.id = `local:${node.path}`;
    item.resourceUri = vscode.Uri.file(node.path);
    const t = node.transfer;
    const size = formatBytes(node.hf?.size ?? node.model?.size ?? t?.size ?? 0);
    const state = node.state;
    switch (state) {
      case 'seeding':
        // An idle seed shows no rate at all (not a crawl of keep-alive bytes).
        item.description = `seeding · ${t!.peers} peer${t!.peers === 1 ? '' : 's'}${t!.uploadRate >= RATE_FLOOR ? ` · ↑ ${formatRate(t!.uploadRate)}` : ''}`;
        item.iconPath = new vscode.ThemeIcon('cloud-upload', new vscode.ThemeColor('charts.green'));
        break;
      case 'paused':
        item.description = `paused · ${size}`;
        item.iconPath = new vscode.ThemeIcon('debug-pause');
        break;
      case 'downloading':
        item.description = `downloading ${Math.floor(t!.progress * 100)}% · ↓ ${formatRate(t!.downloadRate)}`;
        item.iconPath = new vscode.ThemeIcon('cloud-download', new vscode.ThemeColor('charts.blue'));
        break;
      default:
        item.description = `not shared · ${size}`;
        item.iconPath = new vscode.ThemeIcon('file-submodule');
    }
    const md = new vscode.MarkdownString();
    if (node.hf) {
      const r = node.hf;
      const revs = r.revisions.length;
      item.description = `HF cache · ${revs} revision${revs === 1 ? '' : 's'} · ${size}${state === 'seeding' ? ' · seeding' : ''} · used ${r.lastAccessed.toLocaleDateString()}`;
      item.iconPath = new vscode.ThemeIcon(
        'hubot',
        state === 'seeding' ? new vscode.ThemeColor('charts.green') : undefined,
      );
    }
    md.appendMarkdown(`**${node.name}**  \n`);
    md.appendText(node.path);
    md.appendMarkdown(`  \n${size}`);
    for (const r of node.hf?.revisions ?? [])
      md.appendMarkdown(
        `  \n\`${r.commit.slice(0, 12)}\`${r.refs.length ? ` (${r.refs.join(', ')})` : ''} · ${r.files} files · ${formatBytes(r.size)}`,
      );
    if (node.model)
      md.appendMarkdown(
        ` · ${node.model.files} files · ${node.model.format}${node.model.license ? ` · ${node.model.license}` : ''}`,
      );
    if (t)
      md.appendMarkdown(
        `  \n${state} · ${t.peers} peer${t.peers === 1 ? '' : 's'} · ↑ ${formatRate(t.uploadRate)} · ↓ ${formatRate(t.downloadRate)}${t.verified ? ' · verified' : ''}  \n\`${t.id}\``,
      );
    if (node.system) {
      item.description = `system · catalog file${state === 'seeding' ? ' · seeding' : ''} · ${size}`;
      item.iconPath = new vscode.ThemeIcon('gear');
      md.appendMarkdown(`  \nThe node's own catalog file: it keeps the catalog reachable and is not a model.`);
    }
    item.tooltip = md;
    // System items get their own context value: no menu offers Stop Sharing or Verify on them.
    item.contextValue = node.system ? 'localModel.system' : `localModel.${state}`;
    return item;
  }

  getChildren(node?: LocalNode): LocalNode[] {
    if (node) return [];
    const core = this.core();
    if (!core) return [];
    if (this.models.length === 0 && !this.scanning) void this.rescan();
    const transfers = this.transfers(core);
    const byPath = new Map(transfers.map((t) => [resolve(t.path), t]));
    const nodes: LocalNode[] = [];
    for (const m of this.models) {
      if (isSystemModel(m) && !this.showSystem()) continue;
      const p = resolve(m.path);
      nodes.push(new LocalNode(p, m, byPath.get(p)));
      byPath.delete(p);
    }
    // The Hugging Face cache: one node per repository, seeding when one of its snapshots is.
    for (const r of this.hfRepos) {
      const seeding = r.revisions.map((v) => byPath.get(resolve(v.path))).find(Boolean);
      for (const v of r.revisions) byPath.delete(resolve(v.path));
      nodes.push(new LocalNode(resolve(r.path), undefined, seeding, r));
    }
    // Shares and downloads outside the scanned folders still belong here.
    for (const [p, t] of byPath) nodes.push(new LocalNode(p, undefined, t));
    nodes.sort((a, b) => a.name.localeCompare(b.name));
    this.nodes = nodes;
    return nodes;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
