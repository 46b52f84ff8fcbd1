// `npm run test:e2e`: a browser drives the code-server workbench the way a person would. A headless node (the
// bundled CLI) runs a tracker and a private DHT on loopback and shares a model; in the workbench we open the Silmaril
// sidebar, share a folder from the command palette and another from the Explorer's context menu, download the
// headless node's model with the Catalog item's "Download into Workspace", and watch the Transfers view reach 100%
// verified. Then each point of issue 12 (daily use) is walked and photographed (test/e2e/screenshots/<point>.png):
// system transfers hidden, swarm counts, the search box, tooltips, download done / already present, sharing the same
// bytes twice, Stop Sharing, rates, state names, Show Details, the bootstrap setting, empty states, and nothing
// written into the editor's profile after it stops. Any step that fails fails the script (a screenshot of the moment
// is kept as *.fail.png).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { launchBrowser } from './browser.mjs';
import { devHostUrl, freePort, root, startCodeServer } from './code-server.mjs';
import { sampleWorkspaceDir, writeModelFolder } from './sample-workspace.mjs';

const shots = join(root, 'test', 'e2e', 'screenshots');
const STEP_MS = 60_000;
const children = [];

/** Runs the bundled CLI; resolves with the first JSON line matching `pred`. */
function cli(args, pred, what) {
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-3000)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer in 60 s\n${stderr}`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        const j = JSON.parse(l);
        if (pred(j)) {
          clearTimeout(t);
          resolve(j);
        }
      } catch {}
    });
    child.on('exit', (code) => {
      setTimeout(() => reject(new Error(`${what}: exited ${code}\n${stderr}`)), 200);
    });
  });
}

/** Steps run in order and stop at the first failure; the tally is printed as the closing line. */
const tally = { passed: 0, failed: 0 };

async function step(name, page, fn) {
  const t0 = Date.now();
  try {
    await fn();
    tally.passed++;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    tally.failed++;
    console.log(
      `FAIL ${name}\n     ${String(err?.message ?? err)
        .split('\n')
        .join('\n     ')}`,
    );
    await page.screenshot({ path: join(shots, `${name.replace(/\W+/g, '-')}.fail.png`) }).catch(() => {});
    throw err;
  }
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });

/** Polls `fn` until it returns something truthy (or throws after `ms`, naming `what`). */
async function until(what, fn, ms = STEP_MS, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The frame of a webview (the Transfers view, a details panel) holding `selector`: webviews nest two iframes. */
async function webviewFrame(page, selector, what = selector, ms = STEP_MS) {
  return until(
    `the webview with ${what}`,
    async () => {
      for (const f of page.frames()) {
        if (f.isDetached()) continue;
        if (
          (await f
            .locator(selector)
            .count()
            .catch(() => 0)) > 0
        )
          return f;
      }
      return undefined;
    },
    ms,
  );
}

/** The rows of a sidebar pane, by its title. */
function paneRows(page, title) {
  return page.locator('.pane', { has: page.locator('.pane-header', { hasText: title }) }).locator('.monaco-list-row');
}

async function rowTexts(page, title) {
  return (await paneRows(page, title).allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
}

/** Opens the Search Catalog box and returns the text it proposes. */
async function openSearch(page) {
  await page.locator('.pane-header', { hasText: 'Catalog' }).first().hover();
  await page.locator('.pane-header .action-label[aria-label^="Search Catalog"]').first().click();
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  return input;
}

/** A notification's buttons, as shown. */
async function notificationButtons(item) {
  return (await item.locator('.monaco-button').allInnerTexts()).map((t) => t.trim());
}

/** Closes every editor tab with its close button (a webview editor covers the editor area the palette clicks). */
async function closeEditors(page) {
  const tabs = page.locator('.tabs-container .tab');
  for (let i = 0; i < 10 && (await tabs.count()) > 0; i++) {
    const tab = tabs.first();
    await tab.hover();
    await tab.locator('.action-label.codicon-close, .tab-actions .action-label').first().click();
    await page.waitForTimeout(200);
  }
}

async function palette(page, command) {
  const input = page.locator('.quick-input-widget input');
  // F1 typed while a webview has the focus can be lost: focus the workbench's editor area first, and retry.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Escape');
    await page.locator('.part.editor').click({ position: { x: 200, y: 200 } });
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 5000 });
      break;
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
  await input.fill(`>${command}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: command }).first();
  await row.waitFor({ state: 'visible' });
  await page.keyboard.press('Enter');
}

/** Right-clicks `row` and returns the context menu entry `label` (retried: a tree may redraw under the pointer). */
async function contextMenuItem(page, row, label) {
  for (let attempt = 1; ; attempt++) {
    await row.click({ button: 'right' });
    const item = page.locator('.context-view .action-item', { hasText: label }).first();
    try {
      await item.waitFor({ state: 'visible', timeout: 5000 });
      await page.waitForTimeout(400); // the menu fades in (screenshots)
      return item;
    } catch (err) {
      await page.keyboard.press('Escape');
      if (attempt === 3) throw err;
    }
  }
}

/** Picks `label` in `row`'s context menu and returns the modal dialog it opens; tried again when the menu closed
 *  before the click landed (a tree redrawn under it). `shotName`: photograph the open menu. */
async function menuToDialog(page, row, label, shotName) {
  const dialog = page.locator('.monaco-dialog-box');
  for (let attempt = 1; ; attempt++) {
    const item = await contextMenuItem(page, row, label);
    if (shotName) await shot(page, shotName);
    await item.click();
    try {
      await dialog.waitFor({ state: 'visible', timeout: 10_000 });
      return dialog;
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

/** Accepts the Share Folder prompts (name, license, tags) with the proposed values. */
async function acceptSharePrompts(page) {
  for (const title of ['(1/3)', '(2/3)', '(3/3)']) {
    await page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ state: 'visible' });
    await page.keyboard.press('Enter');
  }
}

/** npm start's workspace is outside the clone, and a stopped editor's profile stays deleted (no resume file
 *  reappears in it): what is wrong, or undefined. */
async function profileProblem(profile) {
  if (!relative(root, sampleWorkspaceDir()).startsWith('..'))
    return `the npm start workspace ${sampleWorkspaceDir()} is inside the clone`;
  await new Promise((r) => setTimeout(r, 3000));
  if (existsSync(profile))
    return `files reappeared in the stopped editor's profile: ${readdirSync(profile, { recursive: true }).slice(0, 5).join(', ')}`;
  return undefined;
}

async function main() {
  mkdirSync(shots, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'silmaril-e2e-'));
  const workspace = join(tmp, 'workspace');
  writeModelFolder(workspace, 'tiny-model', { seed: 1 });
  writeModelFolder(workspace, 'second-model', { seed: 2 });
  writeFileSync(join(workspace, 'README.md'), '# e2e workspace\n');

  // The second node: a tracker with a registry, a model shared into it, seeded by the daemon, which is also the
  // private DHT's bootstrap node (loopback only) the editor joins, so both publish and follow catalogs.
  const trackerReady = await cli(
    ['tracker', '--port', '0', '--home', join(tmp, 'tracker-home'), '--json', '--no-udp'],
    (j) => j.event === 'ready',
    'silmaril tracker',
  );
  const announce = trackerReady.announce ?? `${trackerReady.url}/announce`;
  const remote = writeModelFolder(join(tmp, 'remote'), 'remote-model', { seed: 5, floats: 256 * 1024 });
  const home = join(tmp, 'headless-home');
  await cli(
    [
      'share',
      remote,
      '--name',
      'headless/remote-model',
      '--license',
      'mit',
      '--tags',
      'demo',
      '--tracker',
      announce,
      '--home',
      home,
      '--json',
    ],
    (j) => j.event === 'shared',
    'silmaril share',
  );
  const dhtPort = await freePort();
  const daemon = await cli(
    ['daemon', '--home', home, '--json', '--no-lsd', '--dht-port', String(dhtPort), '--dht-bootstrap', ''],
    (j) => j.event === 'ready',
    'silmaril daemon',
  );
  const bootstrap = `127.0.0.1:${daemon.dhtPort ?? dhtPort}`;

  // `--vsix`: drive the packaged extension (npm run package) instead of the development build.
  const vsix = process.argv.includes('--vsix') ? join(root, 'silmaril.vsix') : undefined;
  const server = await startCodeServer({
    vsix,
    folder: workspace,
    // The home is the default one, ~/.silmaril under the profile's throwaway HOME (as with npm start): the last step
    // checks that nothing is written there once the editor has stopped.
    env: { SILMARIL_HOME: '' },
    settings: {
      'silmaril.trackers': [announce],
      'silmaril.dht.enabled': true,
      'silmaril.dht.bootstrap': [bootstrap],
      'workbench.colorTheme': 'Default Dark Modern',
      'window.commandCenter': false,
    },
  });
  const browser = await launchBrowser();
  let ok = false;
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(STEP_MS);
    await page.goto(
      vsix ? `${server.url}/?folder=${encodeURIComponent(workspace)}` : devHostUrl(server.url, { folder: workspace }),
    );
    const transfers = () => webviewFrame(page, '#list', 'the Transfers list');

    await step('workbench loads', page, async () => {
      await page.locator('.monaco-workbench').waitFor({ state: 'visible' });
      await page.locator('.activitybar').waitFor({ state: 'visible' });
    });

    await step('open the Silmaril sidebar', page, async () => {
      await page.locator('.activitybar [aria-label^="Silmaril"]').first().click();
      await page.locator('.pane-header', { hasText: 'Local Models' }).waitFor({ state: 'visible' });
      await page.locator('.monaco-list-row', { hasText: 'tiny-model' }).first().waitFor({ state: 'visible' });
      await shot(page, 'sidebar');
    });

    await step('empty states: the Transfers view says what to do, with buttons', page, async () => {
      const f = await transfers();
      const empty = f.locator('#empty');
      await empty.waitFor({ state: 'visible' });
      for (const label of ['Share a Folder', 'Download a Model']) {
        await empty.locator('button', { hasText: label }).waitFor({ state: 'visible' });
      }
      await shot(page, 'empty-states');
    });

    await step('Silmaril: Share Folder from the command palette', page, async () => {
      await palette(page, 'Silmaril: Share Folder');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'tiny-model' })
        .first()
        .waitFor({ state: 'visible' });
      await shot(page, 'share-palette');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'tiny-model' }).first().click();
      await acceptSharePrompts(page);
      await page.locator('.notification-list-item', { hasText: 'seeding' }).first().waitFor({ state: 'visible' });
      await page
        .locator('.monaco-list-row', { hasText: /tiny-model.*seeding/ })
        .first()
        .waitFor({ state: 'visible' });
      await shot(page, 'shared');
    });

    await step('Silmaril: Share Folder from the Explorer context menu', page, async () => {
      await page.keyboard.press('Control+Shift+E');
      const folder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'second-model' }).first();
      await folder.waitFor({ state: 'visible' });
      const item = await contextMenuItem(page, folder, 'Silmaril: Share Folder');
      await shot(page, 'explorer-context-menu');
      await item.click();
      await acceptSharePrompts(page);
      await page
        .locator('.notification-list-item', { hasText: /seeding .*second-model/ })
        .first()
        .waitFor({ state: 'visible' });
    });

    await step(
      'share-duplicate: sharing the same bytes again warns, naming the entry (Share Anyway / Cancel)',
      page,
      async () => {
        const folder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'tiny-model' }).first();
        await folder.waitFor({ state: 'visible' });
        const item = await contextMenuItem(page, folder, 'Silmaril: Share Folder');
        await item.click();
        // The same bytes under another name (the same name again would be an update of the entry).
        await page
          .locator('.quick-input-widget .quick-input-title', { hasText: '(1/3)' })
          .waitFor({ state: 'visible' });
        await page.locator('.quick-input-widget input').fill('e2e-copy/tiny-model-again');
        await page.keyboard.press('Enter');
        for (const title of ['(2/3)', '(3/3)']) {
          await page
            .locator('.quick-input-widget .quick-input-title', { hasText: title })
            .waitFor({ state: 'visible' });
          await page.keyboard.press('Enter');
        }
        const dialog = page.locator('.monaco-dialog-box');
        await dialog.waitFor({ state: 'visible', timeout: 120_000 });
        const text = (await dialog.innerText()).replace(/\s+/g, ' ');
        if (!/already shared as \S*tiny-model/.test(text))
          throw new Error(`the warning does not name the entry: ${text}`);
        await dialog.locator('.monaco-button', { hasText: 'Share Anyway' }).waitFor({ state: 'visible' });
        await dialog.locator('.monaco-button', { hasText: 'Cancel' }).waitFor({ state: 'visible' });
        await page.waitForTimeout(300);
        await shot(page, 'share-duplicate');
        await dialog.locator('.monaco-button', { hasText: 'Cancel' }).click();
        await dialog.waitFor({ state: 'hidden' });
      },
    );

    await step('Download into Workspace from the Catalog', page, async () => {
      await page.locator('.activitybar [aria-label^="Silmaril"]').first().click();
      const catalogHeader = page.locator('.pane-header', { hasText: 'Catalog' }).first();
      await catalogHeader.hover();
      await page.locator('.pane-header .action-label[aria-label^="Refresh Catalog"]').first().click();
      const model = page.locator('.monaco-list-row', { hasText: 'remote-model' }).first();
      await model.waitFor({ state: 'visible' });
      await model.hover();
      await shot(page, 'catalog');
      const dialog = await menuToDialog(page, model, 'Download into Workspace', 'catalog-context-menu');
      await page.waitForTimeout(300);
      await shot(page, 'download-confirm');
      await dialog.locator('.monaco-button', { hasText: 'Download' }).first().click();
    });

    await step('download-complete: a notification with Open Folder and Reveal', page, async () => {
      const note = page.locator('.notification-list-item', { hasText: /remote-model downloaded/ }).first();
      await note.waitFor({ state: 'visible', timeout: 120_000 });
      const buttons = await notificationButtons(note);
      if (!buttons.includes('Open Folder') || !buttons.some((b) => /^Reveal in (Explorer|OS)$/.test(b))) {
        throw new Error(`the notification offers ${JSON.stringify(buttons)}`);
      }
      await shot(page, 'download-complete');
    });

    await step('search-prefill: reopening search shows exactly the last query', page, async () => {
      let input = await openSearch(page);
      await input.fill('license:mit');
      await page.keyboard.press('Enter');
      await page.locator('.pane-header', { hasText: 'license:mit' }).first().waitFor({ state: 'visible' });
      // Only the MIT model is left in the Catalog pane: its organisation and itself.
      await until('the search to filter tiny-model out', async () => {
        const rows = (await rowTexts(page, 'Catalog')).join('\n');
        return !rows.includes('tiny-model') && rows.includes('remote-model');
      });
      await shot(page, 'catalog-search');
      input = await openSearch(page);
      if ((await input.inputValue()) !== 'license:mit')
        throw new Error(`reopened with "${await input.inputValue()}", not "license:mit"`);
      await input.fill('tiny format:gguf');
      await page.keyboard.press('Enter');
      await page.locator('.pane-header', { hasText: 'tiny format:gguf' }).first().waitFor({ state: 'visible' });
      input = await openSearch(page);
      const again = await input.inputValue();
      if (again !== 'tiny format:gguf') throw new Error(`reopened with "${again}", not "tiny format:gguf"`);
      await shot(page, 'search-prefill');
      await page.keyboard.press('Escape');
      await page.locator('.pane-header', { hasText: 'Catalog' }).first().hover();
      await page.locator('.pane-header .action-label[aria-label^="Clear Catalog Search"]').first().click();
      await page.locator('.pane-header', { hasText: 'format:gguf' }).first().waitFor({ state: 'hidden' });
    });

    await step('catalog-seeders: entries show real seeders and when they were counted', page, async () => {
      await palette(page, 'Notifications: Clear All Notifications');
      const header = page.locator('.pane-header', { hasText: 'Catalog' }).first();
      const text = await until(
        'remote-model to show a counted seeder',
        async () => {
          const row = (await rowTexts(page, 'Catalog')).find((t) => t.includes('remote-model'));
          if (row && /\b[1-9]\d* seeders?\b/.test(row)) return row;
          await header.hover();
          await page.locator('.pane-header .action-label[aria-label^="Refresh Catalog"]').first().click();
          return undefined;
        },
        120_000,
        3000,
      );
      if (/not counted yet/.test(text)) throw new Error(`still not counted: ${text}`);
      const row = paneRows(page, 'Catalog').filter({ hasText: 'remote-model' }).first();
      await page.mouse.move(0, 0);
      await row.hover();
      const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'remote-model' }).first();
      await hover.waitFor({ state: 'visible' });
      const tip = (await hover.innerText()).replace(/\s+/g, ' ');
      if (!/\b[1-9]\d* seeders?\b.*counted (just now|\d+ (s|min|h) ago)/.test(tip))
        throw new Error(`the tooltip does not say when it was counted: ${tip}`);
      await shot(page, 'catalog-seeders');
    });

    await step('tooltip-escapes: tags and names show without stray backslashes', page, async () => {
      const row = paneRows(page, 'Catalog').filter({ hasText: 'tiny-model' }).first();
      await row.waitFor({ state: 'visible' });
      await page.mouse.move(0, 0);
      await page.waitForTimeout(300);
      await row.hover();
      const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'tiny-model' }).first();
      await hover.waitFor({ state: 'visible' });
      const tip = await hover.innerText();
      if (!tip.includes('text-generation')) throw new Error(`no text-generation tag in the tooltip: ${tip}`);
      if (tip.includes('\\')) throw new Error(`a stray backslash in the tooltip: ${tip}`);
      await shot(page, 'tooltip-escapes');
      await page.mouse.move(0, 0);
    });

    await step('download-present: downloading bytes already here says where they are (Open / Copy)', page, async () => {
      await palette(page, 'Notifications: Clear All Notifications');
      const model = paneRows(page, 'Catalog').filter({ hasText: 'tiny-model' }).first();
      const dialog = await menuToDialog(page, model, 'Download into Workspace');
      await dialog.locator('.monaco-button', { hasText: 'Download' }).first().click();
      const note = page
        .locator('.notification-list-item', { hasText: /tiny-model is already on this machine/ })
        .first();
      await note.waitFor({ state: 'visible' });
      const text = await note.innerText();
      if (!text.includes(join(workspace, 'tiny-model'))) throw new Error(`the message does not say where: ${text}`);
      const buttons = await notificationButtons(note);
      if (!buttons.includes('Open') || !buttons.includes('Copy into Workspace'))
        throw new Error(`the message offers ${JSON.stringify(buttons)}`);
      await page.waitForTimeout(600); // the toast fades in
      await shot(page, 'download-present');
      await note.hover();
      await note
        .locator('.codicon-notifications-clear')
        .first()
        .click()
        .catch(() => {});
    });

    await step('the Transfers view reaches 100% verified', page, async () => {
      const f = await transfers();
      const row = f.locator('.row', { hasText: 'remote-model' });
      await row.locator('.pct', { hasText: '100%' }).waitFor({ state: 'visible', timeout: 120_000 });
      await row.locator('.badge.ok').waitFor({ state: 'visible' });
      await row.scrollIntoViewIfNeeded();
      await shot(page, 'transfers');
    });

    await step(
      'system-transfers: the catalog files are hidden, shown only on request and never stoppable',
      page,
      async () => {
        // The editor publishes its catalog and follows the daemon's: its catalog files are transfers of the node.
        const f = await transfers();
        const texts = async () => (await f.locator('.row').allInnerTexts()).join('\n');
        if (/catalog\.bin/.test(await texts())) throw new Error('a catalog file is listed in Transfers');
        if ((await rowTexts(page, 'Local Models')).some((t) => /catalog/.test(t)))
          throw new Error('a catalog file is listed in Local Models');
        const status = page
          .locator('.statusbar-item', { hasText: /\d+$/ })
          .filter({ has: page.locator('.codicon-arrow-swap') });
        const count = Number((await status.first().innerText()).trim().split(/\s+/).pop());
        const rows = await f.locator('.row').count();
        if (count > rows) throw new Error(`the status bar counts ${count} transfers while ${rows} are listed`);
        await palette(page, 'Silmaril: Show System Transfers');
        const g = await transfers();
        const system = g.locator('.row', { has: g.locator('.badge.system') }).first();
        await system.waitFor({ state: 'visible', timeout: 120_000 });
        if ((await system.locator('button', { hasText: /Cancel|Pause/ }).count()) > 0)
          throw new Error('a system transfer offers Cancel or Pause');
        await system.scrollIntoViewIfNeeded();
        await shot(page, 'system-transfers');
        await palette(page, 'Silmaril: Hide System Transfers');
        await until('the system rows to go', async () => (await g.locator('.badge.system').count()) === 0);
      },
    );

    await step(
      'rates and state names: idle shows no rate, a finished download is "seeding" in both views',
      page,
      async () => {
        const f = await transfers();
        const row = f.locator('.row', { hasText: 'remote-model' });
        const stats = await until('the finished download to settle', async () => {
          const s = await row.locator('.stats').textContent();
          return /\d B\/s/.test(s) ? undefined : s;
        });
        const plain = stats.replace(/\u00a0/g, ' ');
        if (!plain.startsWith('seeding')) throw new Error(`Transfers says "${plain}", not seeding`);
        if (!/\d+\u00a0peers?/.test(stats)) throw new Error(`"N peers" may wrap: ${JSON.stringify(stats)}`);
        const local = (await rowTexts(page, 'Local Models')).find((t) => t.includes('remote-model'));
        if (!local || !/seeding/.test(local)) throw new Error(`Local Models says "${local}", not seeding`);
        await row.scrollIntoViewIfNeeded();
        await shot(page, 'rates-and-states');
      },
    );

    await step('Pause and Resume from the Transfers view; its state survives hide/show', page, async () => {
      let f = await transfers();
      let row = f.locator('.row', { hasText: 'remote-model' });
      await row.locator('button', { hasText: 'Pause' }).click();
      await f.locator('.row.paused', { hasText: 'remote-model' }).waitFor({ state: 'visible' });
      await page
        .locator('.monaco-list-row', { hasText: /remote-model.*paused/ })
        .first()
        .waitFor({ state: 'visible' });
      // Collapse and expand the view: the webview is rebuilt and must come back with the same rows.
      const header = page.locator('.pane-header', { hasText: 'Transfers' }).first();
      await header.click();
      await page.waitForTimeout(500);
      await header.click();
      f = await transfers();
      row = f.locator('.row.paused', { hasText: 'remote-model' });
      await row.waitFor({ state: 'visible' });
      await row.locator('button', { hasText: 'Resume' }).click();
      await f.locator('.row:not(.paused)', { hasText: 'remote-model' }).waitFor({ state: 'visible' });
    });

    await step('Verify Model from the Local Models context menu', page, async () => {
      const item = paneRows(page, 'Local Models').filter({ hasText: 'remote-model' }).first();
      const verify = await contextMenuItem(page, item, 'Verify Model');
      await shot(page, 'local-context-menu');
      await verify.click();
      await page
        .locator('.notification-list-item', { hasText: 'remote-model verified' })
        .first()
        .waitFor({ state: 'visible' });
    });

    await step('stop-sharing: asks, and offers to withdraw the catalog entry', page, async () => {
      const item = paneRows(page, 'Local Models').filter({ hasText: 'second-model' }).first();
      const stop = await contextMenuItem(page, item, 'Stop Sharing');
      await stop.click();
      const dialog = page.locator('.monaco-dialog-box');
      await dialog.waitFor({ state: 'visible' });
      for (const label of ['Stop and Withdraw from Catalog', 'Stop, Keep Entry']) {
        await dialog.locator('.monaco-button', { hasText: label }).waitFor({ state: 'visible' });
      }
      await page.waitForTimeout(300);
      await shot(page, 'stop-sharing');
      await dialog.locator('.monaco-button', { hasText: 'Stop and Withdraw from Catalog' }).click();
      await until('second-model to show as not shared', async () =>
        (await rowTexts(page, 'Local Models')).some((t) => /second-model.*not shared/.test(t)),
      );
      // Our signed entry is withdrawn. A tracker registry may still list the torrent: that copy shows as unsigned.
      await until('the signed second-model entry to leave the catalog', async () => {
        const row = paneRows(page, 'Catalog').filter({ hasText: 'second-model' });
        if ((await row.count()) === 0) return true;
        return (await row.first().locator('.codicon-unverified').count()) > 0;
      });
    });

    await step('details-magnet: Show Details has the whole magnet, copyable, and the name once', page, async () => {
      const model = paneRows(page, 'Catalog').filter({ hasText: 'remote-model' }).first();
      // A click runs Show Details; one that lands while the tree redraws only selects, or lands on the publisher's
      // row and folds it (a withdraw just before redraws the Catalog): unfold it and click again.
      const org = paneRows(page, 'Catalog').filter({ hasText: 'headless' }).first();
      let f;
      for (let attempt = 1; !f; attempt++) {
        if ((await org.getAttribute('aria-expanded')) === 'false') await org.click();
        f = await model
          .click({ timeout: 10_000 })
          .then(() => webviewFrame(page, '#magnet', 'the details panel', 10_000))
          .catch((err) => {
            if (attempt === 3) throw err;
            return undefined;
          });
      }
      const magnet = await f.locator('#magnet').inputValue();
      // The whole link, as long as the catalog's, and nothing hidden: the box wraps it (no horizontal overflow).
      const wraps = await f.locator('#magnet').evaluate((el) => el.scrollWidth <= el.clientWidth + 1);
      if (!/^magnet:\?xt=urn:btih:[0-9a-f]{40}/.test(magnet) || magnet.length < 60 || !wraps)
        throw new Error(`the magnet is not whole: ${magnet}`);
      const body = await f.locator('body').innerText();
      const times = body.split('headless/remote-model').length - 1;
      if (times !== 1) throw new Error(`the name shows ${times} times`);
      await f.locator('#copy').click();
      await f.locator('#copied', { hasText: 'copied' }).waitFor({ state: 'visible' });
      await shot(page, 'details-magnet');
      await closeEditors(page);
    });

    await step('settings-bootstrap: silmaril.dht.bootstrap is a list in the Settings UI', page, async () => {
      await palette(page, 'Preferences: Open User Settings');
      await page.locator('.settings-editor').waitFor({ state: 'visible' });
      await page.waitForTimeout(500);
      await page.keyboard.type('silmaril.dht.bootstrap');
      const item = page.locator('.settings-editor .setting-item', { hasText: 'Bootstrap' }).first();
      await item.waitFor({ state: 'visible' });
      await item.locator('.setting-list-widget, .setting-list-object-widget').first().waitFor({ state: 'visible' });
      const text = await item.innerText();
      if (/Edit in settings\.json/.test(text)) throw new Error('the setting still says "Edit in settings.json"');
      if (!text.includes(bootstrap)) throw new Error(`the list does not show ${bootstrap}: ${text}`);
      await shot(page, 'settings-bootstrap');
      await closeEditors(page);
    });

    await step('Silmaril: Download Model searches the catalog in a quick pick', page, async () => {
      await palette(page, 'Silmaril: Download Model');
      const input = page.locator('.quick-input-widget input');
      await page.locator('.quick-input-widget', { hasText: 'Download Model' }).waitFor({ state: 'visible' });
      await input.fill('remote');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'headless/remote-model' })
        .first()
        .waitFor({ state: 'visible' });
      await shot(page, 'download-model-quick-pick');
      await page.keyboard.press('Escape');
    });

    await step('activation time from Developer: Show Running Extensions', page, async () => {
      await palette(page, 'Developer: Show Running Extensions');
      const row = page.locator('.runtime-extensions-editor .monaco-list-row', { hasText: 'Silmaril' }).first();
      await row.waitFor({ state: 'visible' });
      const time = (
        await row
          .locator('.activation-time')
          .first()
          .innerText()
          .catch(() => '')
      ).trim();
      console.log(
        `note: extension host activation time for Silmaril: ${time || (await row.innerText()).replace(/\s+/g, ' ')}`,
      );
      await shot(page, 'running-extensions');
    });
    ok = true;
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    if (ok) {
      // npm start: the sample workspace is outside the clone; once stopped, nothing writes into the editor's
      // profile again (resume files used to reappear in it after it was removed).
      const t0 = Date.now();
      const problem = await profileProblem(server.profile);
      if (problem) {
        tally.failed++;
        ok = false;
        console.log(`FAIL profile-after-stop\n     ${problem}`);
      } else {
        tally.passed++;
        console.log(`ok   profile-after-stop (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
    // Wait for them: a headless node saves its resume records and catalog as it stops, and would otherwise write them
    // back into the folder removed below.
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const force = setTimeout(() => c.kill('SIGKILL'), 15_000);
            c.once('exit', () => (clearTimeout(force), resolve()));
            c.kill('SIGTERM');
          }),
      ),
    );
    // Processes just stopped may still be flushing into it: retry, and never fail a passing run over cleanup.
    if (ok) {
      try {
        rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (err) {
        console.error(`could not remove ${tmp}: ${err.message}`);
      }
    } else console.error(`files kept in ${tmp}`);
    console.log(`screenshots in ${shots}`);
    console.log(`e2e: ${tally.passed} passed, ${tally.failed} failed`);
  }
  return ok ? 0 : 1;
}

// Ctrl+C: the headless nodes go too (the editor's profile is a temporary folder code-server's stop would remove).
process.once('SIGINT', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(130);
});

main().then(
  (code) => process.exit(code),
  (err) => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    console.error(err?.message ?? err);
    process.exit(1);
  },
);
