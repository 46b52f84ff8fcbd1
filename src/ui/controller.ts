// Owns the core and the views. Activation only builds this (no disk, no network); the engine starts on the next
// turn of the event loop, off the activation path, and only in a trusted workspace. Views redraw on the core's
// change events (stats once a second).
import * as vscode from 'vscode';
import { CatalogTree } from './catalog-tree.js';
import type { TransferView, UiCore } from './core.js';
import { notifyDownloadDone } from './notify.js';
import { LocalTree } from './local-tree.js';
import type { WebviewMessage } from './messages.js';
import { SecretKeyStore, registryKeyName } from './secrets.js';
import { readCoreOptions, trackerSettings } from './settings.js';
import { StatusBar } from './status-bar.js';
import { isSystemTransfer, shownTransfers } from './system.js';
import { TransfersView } from './transfers-view.js';

/** `silmaril.showSystemTransfers`: the node's own catalog files in the views and counts too. */
export function showSystemTransfers(): boolean {
  return vscode.workspace.getConfiguration('silmaril').get<boolean>('showSystemTransfers') === true;
}

/** Settings the engine and catalog service take at start: changing one restarts them (transfers resume). */
const ENGINE_SETTINGS = [
  'trackers',
  'modelsDirectory',
  'listenPort',
  'dht.enabled',
  'dht.bootstrap',
  'downloadLimit',
  'uploadLimit',
  'superSeed',
  'catalogSources',
  'node',
];

export type EngineState = 'starting' | 'running' | 'stopped' | 'untrusted' | 'failed';

export class Controller implements vscode.Disposable {
  core?: UiCore;
  engine: EngineState = 'stopped';
  readonly catalog: CatalogTree;
  readonly local: LocalTree;
  readonly transfers: TransfersView;
  readonly status: StatusBar;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;
  private restartTimer?: NodeJS.Timeout;
  /** Bumped on every engine (re)start: tests wait for a restart with it. */
  generation = 0;
  private readonly disposables: vscode.Disposable[] = [];
  /** Downloads seen unfinished in this session (a download finishing notifies once; one resumed done does not). */
  private readonly unfinished = new Set<string>();
  /** Resolves once the engine has started (or failed): tests and commands wait on it. */
  ready: Promise<void> = Promise.resolve();

  constructor(
    readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    const getCore = () => this.core;
    this.catalog = new CatalogTree(getCore, () => readCoreOptions().trustedPublishers, log);
    this.local = new LocalTree(getCore, () => this.modelRoots(), log, showSystemTransfers);
    this.transfers = new TransfersView(
      context.extensionUri,
      getCore,
      () => this.engine,
      (m) => this.onWebview(m),
      log,
      showSystemTransfers,
    );
    this.status = new StatusBar();
    const catalogView = vscode.window.createTreeView('silmaril.catalog', {
      treeDataProvider: this.catalog,
      showCollapseAll: true,
    });
    this.catalog.view = catalogView;
    const localView = vscode.window.createTreeView('silmaril.localModels', { treeDataProvider: this.local });
    void vscode.commands.executeCommand('setContext', 'silmaril.showSystemTransfers', showSystemTransfers());
    this.disposables.push(
      this.catalog,
      this.local,
      this.transfers,
      this.status,
      catalogView,
      localView,
      vscode.window.registerWebviewViewProvider(TransfersView.id, this.transfers),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        log.info('workspace trusted: starting the engine');
        this.startSoon();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.local.rescan()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration('silmaril')) return;
        if (e.affectsConfiguration('silmaril.trustedPublishers')) void this.catalog.reload();
        if (e.affectsConfiguration('silmaril.showSystemTransfers')) {
          void vscode.commands.executeCommand('setContext', 'silmaril.showSystemTransfers', showSystemTransfers());
          void this.local.rescan();
          this.redraw();
        }
        // Settings read when used (tracker address, piece length, trust badges) need no engine restart.
        if (!ENGINE_SETTINGS.some((k) => e.affectsConfiguration(`silmaril.${k}`))) return;
        // Several settings often change together (a settings sync, a test): one restart for all of them.
        clearTimeout(this.restartTimer);
        this.restartTimer = setTimeout(() => void this.restart(), 300);
      }),
    );
  }

  modelRoots(): string[] {
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    roots.push(readCoreOptions().modelsDirectory);
    return roots;
  }

  /** Schedules the engine start after activation returns. */
  startSoon(): void {
    this.ready = new Promise((resolve) => setTimeout(() => void this.start().finally(resolve), 0));
  }

  async start(): Promise<void> {
    if (this.starting) return this.starting;
    if (!vscode.workspace.isTrusted) {
      this.engine = 'untrusted';
      this.log.info(
        'Restricted Mode: the engine stays off (nothing is shared or downloaded in an untrusted workspace)',
      );
      this.redraw();
      return;
    }
    this.starting = (async () => {
      await this.stopping;
      this.engine = 'starting';
      this.generation++;
      this.redraw();
      const t0 = performance.now();
      // Loaded here, not at activation: esbuild defers evaluating the core (WebTorrent, sql.js...) until this import.
      const { NodeCore } = await import('./node-core.js');
      const core = new NodeCore(readCoreOptions(), new SecretKeyStore(this.context.secrets), this.log, (url) =>
        Promise.resolve(this.context.secrets.get(registryKeyName(url))),
      );
      this.core = core;
      core.onDidChange((what) => {
        if (what === 'catalog') void this.catalog.reload();
        else if (what === 'local') void this.local.rescan();
        else this.redraw();
      });
      core.onDidEnd((why, restart) => {
        this.log.info(`${why}${restart ? ': starting again' : ''}`);
        void this.stop().then(() => {
          this.redraw();
          if (restart) this.startSoon();
        });
      });
      try {
        await core.openCatalog();
        void this.catalog.reload();
        void this.local.rescan();
        await core.start();
        this.engine = 'running';
        void vscode.commands.executeCommand('setContext', 'silmaril.engineFailed', false);
        this.log.info(`engine started in ${Math.round(performance.now() - t0)} ms`);
        const tracker = trackerSettings();
        if (tracker.enabled) {
          await core
            .startTracker(tracker.host, tracker.port)
            .catch((err: Error) => this.log.error(`embedded tracker: ${err.message}`));
          await vscode.commands.executeCommand('setContext', 'silmaril.trackerRunning', core.trackerStatus().running);
        }
      } catch (err) {
        this.engine = 'failed';
        // The Catalog's welcome view says so, with Show Log (an empty catalog would look like "no models").
        void vscode.commands.executeCommand('setContext', 'silmaril.engineFailed', true);
        this.log.error(`the engine could not start: ${(err as Error).stack ?? err}`);
      }
      this.redraw();
    })().finally(() => (this.starting = undefined));
    return this.starting;
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => {});
    const core = this.core;
    this.core = undefined;
    this.engine = 'stopped';
    if (core) {
      // A start that follows waits for this: the home's lock is free only once the node has stopped.
      this.stopping = core.stop().catch((err: Error) => this.log.error(`stopping the engine: ${err.message}`));
    }
    await this.stopping;
  }

  /** Settings changed: the engine picks them up on a restart (transfers resume from their state). */
  private async restart(): Promise<void> {
    if (this.engine !== 'running') return;
    this.log.info('settings changed: restarting the engine');
    await this.stop();
    this.startSoon();
    await this.ready;
  }

  redraw(): void {
    const all = this.core?.started ? this.core.transfers() : [];
    this.watchDownloads(all);
    this.status.update(shownTransfers(all, showSystemTransfers()), this.engine);
    this.local.refresh();
    this.transfers.post();
  }

  /** A download seen unfinished that now holds every byte: tell the user where it is (once). */
  private watchDownloads(all: TransferView[]): void {
    for (const t of all) {
      if (t.kind !== 'download' || isSystemTransfer(t)) continue;
      const finished = t.progress >= 1 && (t.state === 'seeding' || t.state === 'done');
      if (!finished) {
        if (t.state !== 'error') this.unfinished.add(t.id);
      } else if (this.unfinished.delete(t.id)) {
        this.log.info(`${t.name} downloaded into ${t.donePath ?? t.path}${t.verified ? ' (verified)' : ''}`);
        void notifyDownloadDone(t);
      }
    }
  }

  /** Requires a trusted workspace and a running engine; says why not otherwise. */
  async requireEngine(action: string): Promise<UiCore> {
    if (!vscode.workspace.isTrusted) {
      throw new Error(
        `${action} is not available in Restricted Mode: Silmaril does not share or download anything in an untrusted workspace.`,
      );
    }
    if (this.engine !== 'running') {
      if (!this.starting && this.engine !== 'failed') this.startSoon();
      await this.ready;
      await this.starting;
    }
    if (!this.core || this.engine !== 'running') throw new Error('the engine could not start (see Silmaril: Show Log)');
    return this.core;
  }

  private async onWebview(m: WebviewMessage): Promise<void> {
    switch (m.type) {
      case 'pause':
        return (await this.requireEngine('Pause')).pause(m.id);
      case 'resume':
        return (await this.requireEngine('Resume')).resume(m.id);
      case 'cancel':
        await vscode.commands.executeCommand('silmaril.cancelTransfer', m.id);
        return;
      case 'reveal': {
        const t = this.core?.transfers().find((x) => x.id === m.id);
        if (t) await vscode.commands.executeCommand('silmaril.revealInExplorer', t.path);
        return;
      }
      case 'startTracker':
        await vscode.commands.executeCommand('silmaril.startTracker');
        return;
      case 'stopTracker':
        await vscode.commands.executeCommand('silmaril.stopTracker');
        return;
      case 'shareFolder':
        await vscode.commands.executeCommand('silmaril.shareFolder');
        return;
      case 'downloadModel':
        await vscode.commands.executeCommand('silmaril.downloadModel');
        return;
    }
  }

  dispose(): void {
    clearTimeout(this.restartTimer);
    for (const d of this.disposables) d.dispose();
  }
}
