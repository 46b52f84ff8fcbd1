// Every `silmaril.*` command. Each takes what its menu passes (an Explorer URI, a tree node) and asks for the rest;
// an optional last argument lets tests and other extensions skip the prompts (`{ name, license, tags }`, ...).
import { promises as fsp } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { parseSearch } from './search.js';
import { ModelNode, trustOf } from './catalog-tree.js';
import type { CatalogModel, ShareResult, TransferView, UiCore } from './core.js';
import type { Controller } from './controller.js';
import { showDetailsPanel } from './details-panel.js';
import { formatBytes, swarmText } from './format.js';
import { offerPresent, revealPath } from './notify.js';
import { isSystemTransfer } from './system.js';
import { LocalNode } from './local-tree.js';
import { registryKeyName } from './secrets.js';
import { pieceLengthSetting, readCoreOptions, trackerSettings } from './settings.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ShareArgs {
  name?: string;
  license?: string;
  tags?: string[];
  description?: string;
  /** No prompts and no closing notification (tests, automation). */
  quiet?: boolean;
  /** The answer to "these bytes are already shared" (tests): share anyway, or not. */
  duplicate?: 'Share Anyway' | 'Cancel';
}

export interface DownloadArgs {
  folder?: string;
  /** Skip the size / free-space confirmation. */
  confirm?: boolean;
  /** Errors are thrown to the caller as well as shown. */
  quiet?: boolean;
  /** The answer to "these bytes are already here" (tests). */
  present?: 'Open' | 'Copy into Workspace' | 'cancel';
}

function pathOf(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg instanceof LocalNode) return arg.path;
  if (typeof arg === 'string') return arg;
  return undefined;
}

function modelOf(arg: unknown): CatalogModel | undefined {
  if (arg instanceof ModelNode) return arg.model;
  if (arg && typeof arg === 'object' && 'magnet' in arg && 'name' in arg) return arg as CatalogModel;
  return undefined;
}

export async function freeSpace(dir: string): Promise<number | undefined> {
  let d = dir;
  for (;;) {
    try {
      const s = await fsp.statfs(d);
      return s.bavail * s.bsize;
    } catch {
      const up = dirname(d);
      if (up === d) return undefined;
      d = up;
    }
  }
}

/** Parses `words license:mit format:gguf tag:x publisher:ab12` into a catalog query. */
export { parseSearch };

const DETAILS_SCHEME = 'silmaril-model';
const detailsDocs = new Map<string, string>();

/** Read-only model detail pages (Show Details). */
export class DetailsProvider implements vscode.TextDocumentContentProvider {
  provideTextDocumentContent(uri: vscode.Uri): string {
    return detailsDocs.get(uri.toString()) ?? '# Model details are gone\n\nRun Show Details again.';
  }
}

/** The model page: name once (the heading), the fields, the hashes, the whole magnet. */
export function detailsMarkdown(model: CatalogModel, trust: string): string {
  const swarm = swarmText(model);
  const lines = [
    `# ${model.name}`,
    '',
    model.description ? `${model.description}\n` : '',
    `- license: ${model.license || 'no license'}`,
    `- size: ${formatBytes(model.size)}${model.files ? ` in ${model.files} files` : ''}, ${model.format || 'other'}`,
    model.architecture ? `- architecture: ${model.architecture}` : '',
    `- swarm: ${swarm.counts}${swarm.when ? ` (${swarm.when})` : ''}`,
    `- publisher: ${trust}, \`${model.fingerprint}\` (key \`${model.publisher}\`)`,
    model.tags.length ? `- tags: ${model.tags.join(', ')}` : '',
    `- v1: \`${model.v1 ?? '-'}\``,
    `- v2: \`${model.v2 ?? '-'}\``,
    '',
    'Magnet link:',
    '',
    model.magnet,
    '',
  ];
  return lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n');
}

async function setShowSystem(on: boolean): Promise<void> {
  await vscode.workspace
    .getConfiguration('silmaril')
    .update('showSystemTransfers', on, vscode.ConfigurationTarget.Global);
}

export function registerCommands(c: Controller): vscode.Disposable[] {
  const log = c.log;
  const run =
    <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R | undefined> => {
      try {
        return await fn(...args);
      } catch (err) {
        const message = (err as Error)?.message ?? String(err);
        if (err instanceof vscode.CancellationError || (err as Error)?.name === 'AbortError') {
          log.info(`${name}: cancelled`);
          return undefined;
        }
        log.error(`${name}: ${message}`);
        void vscode.window.showErrorMessage(`Silmaril: ${message}`);
        if ((args.at(-1) as { quiet?: boolean } | undefined)?.quiet) throw err;
        return undefined;
      }
    };

  const pickTransfer = async (
    core: UiCore,
    arg: unknown,
    title: string,
    filter: (t: TransferView) => boolean = () => true,
  ) => {
    if (arg instanceof LocalNode && arg.transfer) {
      if (arg.system) throw new Error(`${arg.name} is the node's own catalog file: it is not stopped from here`);
      return arg.transfer;
    }
    // The node's own catalog files are not the user's to pick (stop, cancel, verify, export).
    const all = core.transfers().filter((t) => !isSystemTransfer(t));
    if (typeof arg === 'string') {
      const t = all.find((x) => x.id === arg || x.path === arg);
      if (t) return t;
    }
    const items = all
      .filter(filter)
      .map((t) => ({ label: t.name, description: `${t.kind} · ${t.state}`, detail: t.path, t }));
    if (items.length === 0) throw new Error('no shared or downloading model to choose from');
    const picked = await vscode.window.showQuickPick(items, { title, placeHolder: 'Choose a model' });
    if (!picked) throw new vscode.CancellationError();
    return picked.t;
  };

  const share = run('Share Folder', async (arg?: unknown, opts: ShareArgs = {}): Promise<ShareResult | undefined> => {
    const core = await c.requireEngine('Sharing');
    let folder = pathOf(arg);
    if (!folder) {
      // From the palette: the model folders found on disk first, then any folder.
      await c.local.rescan();
      const candidates = c.local.getChildren().filter((n) => n.state === 'notShared');
      const browse = { label: '$(folder-opened) Browse…', description: 'choose any folder', path: '' };
      const choice = candidates.length
        ? await vscode.window.showQuickPick(
            [
              ...candidates.map((n) => ({
                label: `$(file-submodule) ${n.name}`,
                description: n.model ? `${formatBytes(n.model.size)} · ${n.model.format}` : undefined,
                detail: n.path,
                path: n.path,
              })),
              browse,
            ],
            { title: 'Silmaril: Share Folder', placeHolder: 'Which model folder?' },
          )
        : browse;
      if (!choice) return undefined;
      folder = choice.path || undefined;
    }
    if (!folder) {
      const picked = await vscode.window.showOpenDialog({
        canSelectFolders: true,
        canSelectFiles: false,
        canSelectMany: false,
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        openLabel: 'Share',
        title: 'Silmaril: Share Folder',
      });
      if (!picked?.[0]) return undefined;
      folder = picked[0].fsPath;
    }
    const proposed = await core.describeFolder(folder);
    const org = (process.env.USER || userInfo().username || 'me').toLowerCase().replace(/[^a-z0-9._-]/g, '') || 'me';
    const nameDefault = proposed.name ?? `${org}/${basename(folder).replace(/[^A-Za-z0-9._-]/g, '-')}`;
    const name =
      opts.name ??
      (opts.quiet
        ? nameDefault
        : await vscode.window.showInputBox({
            title: 'Silmaril: Share Folder (1/3)',
            prompt: 'Model name as organisation/model',
            value: nameDefault,
            validateInput: (v) =>
              NAME_RE.test(v.trim()) ? undefined : 'Use organisation/model: letters, digits, . _ -',
          }));
    if (name === undefined) return undefined;
    const license =
      opts.license ??
      (opts.quiet
        ? (proposed.license ?? 'other')
        : await vscode.window.showInputBox({
            title: 'Silmaril: Share Folder (2/3)',
            prompt: proposed.license ? 'License (from the model card)' : 'License (SPDX id, e.g. apache-2.0, mit)',
            value: proposed.license ?? '',
            validateInput: (v) => (v.trim() ? undefined : 'A license is required, e.g. apache-2.0 or other'),
          }));
    if (license === undefined) return undefined;
    const tagsText =
      opts.tags?.join(', ') ??
      (opts.quiet
        ? (proposed.tags ?? []).join(', ')
        : await vscode.window.showInputBox({
            title: 'Silmaril: Share Folder (3/3)',
            prompt: 'Tags, comma separated',
            value: (proposed.tags ?? []).join(', '),
          }));
    if (tagsText === undefined) return undefined;
    const tags = tagsText
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean);
    const options = readCoreOptions();
    const shareOnce = (allowDuplicate: boolean) =>
      vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Silmaril: sharing ${name.trim()}`,
          cancellable: true,
        },
        async (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          let last = 0;
          return core.share(
            {
              folder: folder!,
              name: name.trim(),
              license: license.trim(),
              tags,
              description: opts.description ?? proposed.description,
              trackers: options.trackers,
              pieceLength: pieceLengthSetting(vscode.workspace.getConfiguration('silmaril').get<string>('pieceLength')),
              v1Only: vscode.workspace.getConfiguration('silmaril').get<boolean>('torrent.v1Only') === true,
              allowDuplicate,
            },
            (p) => {
              const pct = Math.floor(p.fraction * 100);
              progress.report({ increment: pct - last, message: `${p.message ?? ''} ${pct}%` });
              last = pct;
            },
            abort.signal,
          );
        },
      );
    let result = await shareOnce(false);
    if (result.duplicateOf) {
      // The same bytes are already shared: a second entry under another name would split the swarm's seeders.
      const dup = result.duplicateOf;
      const where = dup.path ? ` from ${dup.path}` : '';
      log.info(`${folder} holds the same bytes as ${dup.name || dup.path} (v1 ${result.v1})`);
      const answer =
        opts.duplicate ??
        (await vscode.window.showWarningMessage(
          `These bytes are already shared${dup.name ? ` as ${dup.name}` : ''}${where}.`,
          {
            modal: true,
            detail: `${folder} has the same content (infohash ${result.v1}). Sharing it again publishes a second catalog entry for the same bytes${name.trim() !== dup.name ? ` under the name ${name.trim()}` : ''}; peers already find it${dup.name ? ` as ${dup.name}` : ''}.`,
          },
          'Share Anyway',
        ));
      if (answer !== 'Share Anyway') return undefined;
      result = await shareOnce(true);
    }
    log.info(`sharing ${name} from ${folder}: ${result.magnet}`);
    for (const w of result.warnings) log.warn(w);
    c.redraw();
    if (!opts.quiet) {
      void vscode.window
        .showInformationMessage(
          `Silmaril: seeding ${name.trim()}${result.published ? ' and published to the catalog' : ''}.`,
          'Copy Magnet Link',
          'Show Transfers',
        )
        .then(async (choice) => {
          if (choice === 'Copy Magnet Link') await vscode.env.clipboard.writeText(result.magnet);
          if (choice === 'Show Transfers') await vscode.commands.executeCommand('silmaril.showTransfers');
        });
    }
    return result;
  });

  const downloadInto = run(
    'Download',
    async (arg?: unknown, opts: DownloadArgs = {}): Promise<TransferView | undefined> => {
      const core = await c.requireEngine('Downloading');
      const model = modelOf(arg);
      // Without a model (the palette, or a menu whose tree item was redrawn meanwhile): choose one from the catalog.
      if (!model) return vscode.commands.executeCommand<TransferView | undefined>('silmaril.downloadModel', opts);
      let folder = opts.folder;
      if (!folder) {
        const folders = vscode.workspace.workspaceFolders ?? [];
        if (folders.length === 1) folder = folders[0].uri.fsPath;
        else if (folders.length > 1) {
          const picked = await vscode.window.showWorkspaceFolderPick({
            placeHolder: `Download ${model.name} into which folder?`,
          });
          if (!picked) return undefined;
          folder = picked.uri.fsPath;
        } else folder = readCoreOptions().modelsDirectory;
      }
      const free = await freeSpace(folder);
      if (free !== undefined && free < model.size) {
        throw new Error(
          `${model.name} needs ${formatBytes(model.size)} but ${folder} has only ${formatBytes(free)} free`,
        );
      }
      if (opts.confirm !== false) {
        const go = await vscode.window.showInformationMessage(
          `Download ${model.name} (${formatBytes(model.size)}) into ${folder}?`,
          {
            modal: true,
            detail: [
              free === undefined ? 'free space unknown' : `${formatBytes(free)} free in ${folder}`,
              model.license || 'no license',
              model.format,
            ]
              .filter(Boolean)
              .join(' · '),
          },
          'Download',
        );
        if (go !== 'Download') return undefined;
      }
      const settings = vscode.workspace.getConfiguration('silmaril');
      const firstFiles = settings.get<string[]>('download.firstFiles');
      const sequential = settings.get<boolean>('download.sequential') === true;
      const t = await core.download(model, folder, { firstFiles, sequential });
      if (t.status === 'present') {
        // Every byte is already here (seeded or downloaded earlier, from another folder): say where, offer the rest.
        const dest = folder;
        log.info(`${model.name} is already on this machine at ${t.path}: nothing to download`);
        await offerPresent(
          model.name,
          t.path,
          dest,
          async () => {
            if (!core.copyPresent) throw new Error('this node cannot copy a model it holds');
            const r = await core.copyPresent(t.id, dest);
            log.info(`copied ${model.name} into ${r.path}${r.verified ? ' (verified)' : ''}`);
            return r.path;
          },
          opts.present,
        );
        return t;
      }
      log.info(`downloading ${model.name} into ${folder}`);
      c.redraw();
      void vscode.commands.executeCommand('silmaril.showTransfers');
      return t;
    },
  );

  // The logic is in the core (models/hf/download.ts via UiCore.downloadIntoHfCache); this only asks and reports.
  const downloadIntoHfCache = run('Download into Hugging Face Cache', async (arg?: unknown) => {
    const core = await c.requireEngine('Downloading');
    const model = modelOf(arg);
    if (!model)
      throw new Error('choose a model in the Catalog view (right-click it, Download into Hugging Face Cache)');
    if (!core.downloadIntoHfCache) throw new Error('this core cannot download into the Hugging Face cache');
    const webSeed = vscode.workspace.getConfiguration('silmaril').get<boolean>('huggingFace.webSeed') ?? true;
    const d = await core.downloadIntoHfCache(model, { webSeed });
    log.info(`downloading ${model.name} into the Hugging Face cache`);
    c.redraw();
    void vscode.commands.executeCommand('silmaril.showTransfers');
    d.done.then(
      (r) =>
        r.verified
          ? void vscode.window.showInformationMessage(
              `Silmaril: ${model.name} is in the Hugging Face cache: ${r.snapshot}`,
            )
          : void vscode.window.showErrorMessage(
              `Silmaril: ${model.name} did not verify; nothing was added to the cache`,
            ),
      (err: Error) => void vscode.window.showErrorMessage(`Silmaril: ${model.name}: ${err.message}`),
    );
    return d.transfer;
  });

  const downloadModel = run('Download Model', async (opts: DownloadArgs = {}) => {
    const core = await c.requireEngine('Downloading');
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { model: CatalogModel }>();
    qp.title = 'Silmaril: Download Model';
    qp.placeholder = 'Search the catalog (words, license:mit, format:gguf, tag:x)';
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    const trusted = readCoreOptions().trustedPublishers;
    const fill = async (text: string) => {
      qp.busy = true;
      const models = await core.searchCatalog({ ...parseSearch(text), limit: 200 });
      qp.items = models.map((m) => ({
        label: `$(${trustOf(m, trusted) === 'unsigned' ? 'unverified' : 'package'}) ${m.name}`,
        description: `${m.license} · ${formatBytes(m.size)} · ${m.format} · ${swarmText(m).counts}`,
        detail: m.description || undefined,
        model: m,
      }));
      qp.busy = false;
    };
    qp.onDidChangeValue((v) => void fill(v));
    await fill('');
    const picked = await new Promise<CatalogModel | undefined>((resolve) => {
      qp.onDidAccept(() => {
        resolve(qp.selectedItems[0]?.model);
        qp.hide();
      });
      qp.onDidHide(() => resolve(undefined));
      qp.show();
    });
    qp.dispose();
    if (!picked) return undefined;
    return downloadInto(picked, opts);
  });

  const search = run('Search Catalog', async (text?: string) => {
    const value =
      typeof text === 'string'
        ? text
        : await vscode.window.showInputBox({
            title: 'Silmaril: Search Catalog',
            prompt: 'Words in name, tags or description; filters: license:mit format:gguf tag:x publisher:ab12',
            // Exactly what was searched last, in the box's own syntax (`license:mit` stays `license:mit`).
            value: c.catalog.filterText,
            valueSelection: [0, c.catalog.filterText.length],
          });
    if (value === undefined) return;
    await c.catalog.setQuery(parseSearch(value), value);
    await vscode.commands.executeCommand('silmaril.catalog.focus');
  });

  const copyMagnet = run('Copy Magnet Link', async (arg?: unknown) => {
    const model = modelOf(arg);
    let magnet = model?.magnet;
    if (!magnet) {
      const core = await c.requireEngine('Copy Magnet Link');
      magnet = (await pickTransfer(core, arg, 'Copy the magnet link of')).magnet;
    }
    await vscode.env.clipboard.writeText(magnet);
    void vscode.window.setStatusBarMessage('$(link) Silmaril: magnet link copied', 3000);
    return magnet;
  });

  const details = run('Show Details', async (arg?: unknown) => {
    const model = modelOf(arg);
    if (!model) return;
    const uri = vscode.Uri.from({ scheme: DETAILS_SCHEME, path: `/${model.name}.md`, query: String(Date.now()) });
    const trust = trustOf(model, readCoreOptions().trustedPublishers);
    // The page as text (tests and screen readers read it), and a panel with the whole magnet and Copy Magnet.
    detailsDocs.set(uri.toString(), detailsMarkdown(model, trust));
    if (detailsDocs.size > 50) detailsDocs.delete(detailsDocs.keys().next().value!);
    showDetailsPanel(c.context.extensionUri, model, trust, log);
    return uri.toString();
  });

  const stopSharing = run('Stop Sharing', async (arg?: unknown, opts: { withdraw?: boolean } = {}) => {
    const core = await c.requireEngine('Stop Sharing');
    const t = await pickTransfer(core, arg, 'Stop sharing');
    let withdraw = opts.withdraw;
    if (withdraw === undefined) {
      const choice = await vscode.window.showWarningMessage(
        `Stop sharing ${t.name}?`,
        {
          modal: true,
          detail:
            'Peers can no longer download it from this machine. Withdraw its catalog entry too, so nobody finds a ' +
            'model that no one seeds; keep the entry if it is seeded elsewhere. The files stay where they are.',
        },
        'Stop and Withdraw from Catalog',
        'Stop, Keep Entry',
      );
      if (!choice) return undefined;
      withdraw = choice === 'Stop and Withdraw from Catalog';
    }
    const r = await core.stopSharing(t.id, { withdraw });
    log.info(
      `stopped sharing ${t.name}${withdraw ? `; withdrawn from the catalog: ${r.withdrawn.join(', ') || 'no entry of ours'}` : ''}`,
    );
    c.redraw();
    if (withdraw) await c.catalog.reload();
    void vscode.window.setStatusBarMessage(
      `$(debug-stop) Silmaril: stopped sharing ${t.name}${withdraw && r.withdrawn.length ? ', withdrawn from the catalog' : ''}`,
      5000,
    );
    return r;
  });

  const verify = run('Verify Model', async (arg?: unknown, opts: { quiet?: boolean } = {}) => {
    const core = await c.requireEngine('Verify');
    const t = await pickTransfer(core, arg, 'Verify');
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Silmaril: verifying ${t.name}`, cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let last = 0;
        return core.verify(
          t.id,
          (p) => {
            const pct = Math.floor(p.fraction * 100);
            progress.report({ increment: pct - last, message: `${pct}%` });
            last = pct;
          },
          abort.signal,
        );
      },
    );
    log.info(`verify ${t.name}: ${result.ok ? 'every byte checks out' : `damaged: ${result.damaged.join(', ')}`}`);
    if (!opts.quiet) {
      if (result.ok)
        void vscode.window.showInformationMessage(`Silmaril: ${t.name} verified: every piece and file hash matches.`);
      else if (result.unreadable?.length && result.unreadable.length === result.damaged.length)
        // Nothing is wrong with the bytes that could be read: a permission (or a folder in a file's place) to fix.
        void vscode.window.showErrorMessage(
          `Silmaril: ${t.name}: cannot read ${result.unreadable.join(', ')}. Check the files' permissions.`,
        );
      else void vscode.window.showErrorMessage(`Silmaril: ${t.name} is damaged: ${result.damaged.join(', ')}`);
    }
    return result;
  });

  const exportTorrent = run('Export .torrent', async (arg?: unknown, target?: string) => {
    const core = await c.requireEngine('Export .torrent');
    const t = await pickTransfer(core, arg, 'Export the .torrent of');
    const bytes = await core.torrentFile(t.id);
    let uri = typeof target === 'string' ? vscode.Uri.file(target) : undefined;
    if (!uri) {
      const base = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(dirname(t.path));
      uri = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.joinPath(base, `${t.name}.torrent`),
        filters: { Torrent: ['torrent'] },
        title: 'Silmaril: Export .torrent',
      });
      if (!uri) return undefined;
    }
    await vscode.workspace.fs.writeFile(uri, bytes);
    log.info(`exported ${t.name} to ${uri.fsPath}`);
    return uri.fsPath;
  });

  const reveal = run('Reveal in Explorer', async (arg?: unknown) => {
    const p = pathOf(arg) ?? (arg instanceof LocalNode ? arg.path : undefined);
    if (!p) return;
    await revealPath(p);
  });

  const startTracker = run('Start Embedded Tracker', async () => {
    const core = await c.requireEngine('The embedded tracker');
    const { host, port } = trackerSettings();
    const status = await core.startTracker(host, port);
    await vscode.commands.executeCommand('setContext', 'silmaril.trackerRunning', status.running);
    log.info(`embedded tracker at ${status.announceUrl}`);
    c.redraw();
    return status;
  });

  const stopTracker = run('Stop Embedded Tracker', async () => {
    await c.core?.stopTracker();
    await vscode.commands.executeCommand('setContext', 'silmaril.trackerRunning', false);
    c.redraw();
  });

  const cancelTransfer = run('Cancel', async (id?: string) => {
    const core = await c.requireEngine('Cancel');
    const t = await pickTransfer(core, id, 'Cancel');
    const choices =
      t.kind === 'download' && t.state !== 'done'
        ? ['Cancel and Keep Files', 'Cancel and Delete Partial Files']
        : ['Stop'];
    const choice = await vscode.window.showWarningMessage(`Cancel ${t.name}?`, { modal: true }, ...choices);
    if (!choice) return;
    await core.cancel(t.id, choice === 'Cancel and Delete Partial Files');
    c.redraw();
  });

  const setRegistryKey = run('Set Tracker Registry Key', async () => {
    const trackers = readCoreOptions().trackers;
    const url =
      trackers.length === 1
        ? trackers[0]
        : await vscode.window.showQuickPick(trackers.length ? trackers : [], { placeHolder: 'Which tracker?' });
    if (!url) throw new Error('add a tracker to the silmaril.trackers setting first');
    const key = await vscode.window.showInputBox({
      title: `Registry key for ${url}`,
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) return;
    await c.context.secrets.store(registryKeyName(url), key);
    log.info(`registry key for ${url} saved in the secret store`);
  });

  return [
    vscode.workspace.registerTextDocumentContentProvider(DETAILS_SCHEME, new DetailsProvider()),
    vscode.commands.registerCommand('silmaril.shareFolder', share),
    vscode.commands.registerCommand('silmaril.explorerShareFolder', share),
    vscode.commands.registerCommand('silmaril.downloadIntoWorkspace', downloadInto),
    vscode.commands.registerCommand('silmaril.downloadIntoHfCache', downloadIntoHfCache),
    vscode.commands.registerCommand('silmaril.downloadModel', downloadModel),
    vscode.commands.registerCommand('silmaril.searchCatalog', search),
    vscode.commands.registerCommand('silmaril.clearSearch', () => c.catalog.setQuery({})),
    vscode.commands.registerCommand(
      'silmaril.refreshCatalog',
      run('Refresh Catalog', async () => {
        await vscode.window.withProgress({ location: { viewId: 'silmaril.catalog' } }, async () => {
          await c.core?.refreshCatalog();
          await c.catalog.reload();
        });
      }),
    ),
    vscode.commands.registerCommand('silmaril.refreshLocalModels', () => c.local.rescan()),
    vscode.commands.registerCommand('silmaril.showDetails', details),
    vscode.commands.registerCommand('silmaril.stopSharing', stopSharing),
    vscode.commands.registerCommand('silmaril.verifyModel', verify),
    vscode.commands.registerCommand('silmaril.copyMagnet', copyMagnet),
    vscode.commands.registerCommand('silmaril.exportTorrent', exportTorrent),
    vscode.commands.registerCommand('silmaril.revealInExplorer', reveal),
    vscode.commands.registerCommand('silmaril.startTracker', startTracker),
    vscode.commands.registerCommand('silmaril.stopTracker', stopTracker),
    vscode.commands.registerCommand('silmaril.showTransfers', () =>
      vscode.commands.executeCommand('silmaril.transfers.focus'),
    ),
    vscode.commands.registerCommand('silmaril.cancelTransfer', cancelTransfer),
    vscode.commands.registerCommand('silmaril.setRegistryKey', setRegistryKey),
    vscode.commands.registerCommand('silmaril.showLog', () => log.show()),
    vscode.commands.registerCommand('silmaril.showSystemTransfers', () => setShowSystem(true)),
    vscode.commands.registerCommand('silmaril.hideSystemTransfers', () => setShowSystem(false)),
  ];
}
