// `npm run test:e2e`: a browser drives the code-server workbench the way a person would. A headless node (the
// bundled CLI) runs a tracker and shares a model; in the workbench we open the Silmaril sidebar, share a folder from
// the command palette and another from the Explorer's context menu, download the headless node's model with the
// Catalog item's "Download into Workspace", and watch the Transfers view reach 100% verified. Screenshots go to
// test/e2e/screenshots/. Any step that fails fails the script (a screenshot of the moment is kept as *.fail.png).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { launchBrowser } from './browser.mjs';
import { devHostUrl, root, startCodeServer } from './code-server.mjs';
import { writeModelFolder } from './sample-workspace.mjs';

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

/** Accepts the Share Folder prompts (name, license, tags) with the proposed values. */
async function acceptSharePrompts(page) {
  for (const title of ['(1/3)', '(2/3)', '(3/3)']) {
    await page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ state: 'visible' });
    await page.keyboard.press('Enter');
  }
}

async function main() {
  mkdirSync(shots, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'silmaril-e2e-'));
  const workspace = join(tmp, 'workspace');
  writeModelFolder(workspace, 'tiny-model', { seed: 1 });
  writeModelFolder(workspace, 'second-model', { seed: 2 });
  writeFileSync(join(workspace, 'README.md'), '# e2e workspace\n');

  // The second node: a tracker with a registry, a model shared into it, seeded by the daemon.
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
  await cli(
    ['daemon', '--home', home, '--json', '--no-dht', '--no-lsd'],
    (j) => j.event === 'ready',
    'silmaril daemon',
  );

  // `--vsix`: drive the packaged extension (npm run package) instead of the development build.
  const vsix = process.argv.includes('--vsix') ? join(root, 'silmaril.vsix') : undefined;
  const server = await startCodeServer({
    vsix,
    folder: workspace,
    env: { SILMARIL_HOME: join(tmp, 'silmaril-home') },
    settings: {
      'silmaril.trackers': [announce],
      'silmaril.dht.enabled': false,
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

    await step('workbench loads', page, async () => {
      await page.locator('.monaco-workbench').waitFor({ state: 'visible' });
      await page.locator('.activitybar').waitFor({ state: 'visible' });
    });

    await step('open the Silmaril sidebar', page, async () => {
      await page.locator('.activitybar [aria-label^="Silmaril"]').first().click();
      await page.locator('.pane-header', { hasText: 'Local Models' }).waitFor({ state: 'visible' });
      await page.locator('.monaco-list-row', { hasText: 'tiny-model' }).first().waitFor({ state: 'visible' });
      await page.screenshot({ path: join(shots, 'sidebar.png') });
    });

    await step('Silmaril: Share Folder from the command palette', page, async () => {
      await palette(page, 'Silmaril: Share Folder');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'tiny-model' })
        .first()
        .waitFor({ state: 'visible' });
      await page.screenshot({ path: join(shots, 'share-palette.png') });
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'tiny-model' }).first().click();
      await acceptSharePrompts(page);
      await page.locator('.notification-list-item', { hasText: 'seeding' }).first().waitFor({ state: 'visible' });
      await page
        .locator('.monaco-list-row', { hasText: /tiny-model.*seeding/ })
        .first()
        .waitFor({ state: 'visible' });
      await page.screenshot({ path: join(shots, 'shared.png') });
    });

    await step('Silmaril: Share Folder from the Explorer context menu', page, async () => {
      await page.keyboard.press('Control+Shift+E');
      const folder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'second-model' }).first();
      await folder.waitFor({ state: 'visible' });
      const item = await contextMenuItem(page, folder, 'Silmaril: Share Folder');
      await page.screenshot({ path: join(shots, 'explorer-context-menu.png') });
      await item.click();
      await acceptSharePrompts(page);
      await page
        .locator('.notification-list-item', { hasText: /seeding .*second-model/ })
        .first()
        .waitFor({ state: 'visible' });
    });

    await step('Download into Workspace from the Catalog', page, async () => {
      await page.locator('.activitybar [aria-label^="Silmaril"]').first().click();
      const catalogHeader = page.locator('.pane-header', { hasText: 'Catalog' }).first();
      await catalogHeader.hover();
      await page.locator('.pane-header .action-label[aria-label^="Refresh Catalog"]').first().click();
      const model = page.locator('.monaco-list-row', { hasText: 'remote-model' }).first();
      await model.waitFor({ state: 'visible' });
      await model.hover();
      await page.screenshot({ path: join(shots, 'catalog.png') });
      const item = await contextMenuItem(page, model, 'Download into Workspace');
      await page.screenshot({ path: join(shots, 'catalog-context-menu.png') });
      await item.click();
      const dialog = page.locator('.monaco-dialog-box');
      await dialog.waitFor({ state: 'visible' });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(shots, 'download-confirm.png') });
      await dialog.locator('.monaco-button', { hasText: 'Download' }).first().click();
    });

    await step('Search Catalog from the view title bar', page, async () => {
      await page.locator('.pane-header', { hasText: 'Catalog' }).first().hover();
      await page.locator('.pane-header .action-label[aria-label^="Search Catalog"]').first().click();
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await input.fill('license:mit');
      await page.keyboard.press('Enter');
      await page.locator('.pane-header', { hasText: 'license mit' }).first().waitFor({ state: 'visible' });
      // Only the MIT model is left in the Catalog pane: its organisation and itself.
      const rows = page
        .locator('.pane', { has: page.locator('.pane-header', { hasText: 'Catalog' }) })
        .locator('.monaco-list-row');
      const deadline = Date.now() + 10_000;
      while ((await rows.allInnerTexts()).join('\n').includes('tiny-model')) {
        if (Date.now() > deadline) throw new Error('the search did not filter tiny-model out');
        await page.waitForTimeout(200);
      }
      if (!(await rows.allInnerTexts()).join('\n').includes('remote-model')) throw new Error('remote-model is missing');
      await page.screenshot({ path: join(shots, 'catalog-search.png') });
      await page.locator('.pane-header .action-label[aria-label^="Clear Catalog Search"]').first().click();
      await page.locator('.pane-header', { hasText: 'license mit' }).first().waitFor({ state: 'hidden' });
    });

    await step('the Transfers view reaches 100% verified', page, async () => {
      const frame = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
      const row = frame.locator('.row', { hasText: 'remote-model' });
      await row.locator('.pct', { hasText: '100%' }).waitFor({ state: 'visible', timeout: 120_000 });
      await row.locator('.badge.ok').waitFor({ state: 'visible' });
      await row.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(shots, 'transfers.png') });
    });

    await step('Pause and Resume from the Transfers view; its state survives hide/show', page, async () => {
      const frame = () => page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
      let row = frame().locator('.row', { hasText: 'remote-model' });
      await row.locator('button', { hasText: 'Pause' }).click();
      await frame().locator('.row.paused', { hasText: 'remote-model' }).waitFor({ state: 'visible' });
      await page
        .locator('.monaco-list-row', { hasText: /remote-model.*paused/ })
        .first()
        .waitFor({ state: 'visible' });
      // Collapse and expand the view: the webview is rebuilt and must come back with the same rows.
      const header = page.locator('.pane-header', { hasText: 'Transfers' }).first();
      await header.click();
      await page.waitForTimeout(500);
      await header.click();
      row = frame().locator('.row.paused', { hasText: 'remote-model' });
      await row.waitFor({ state: 'visible' });
      await row.locator('button', { hasText: 'Resume' }).click();
      await frame().locator('.row:not(.paused)', { hasText: 'remote-model' }).waitFor({ state: 'visible' });
    });

    await step('Verify Model from the Local Models context menu', page, async () => {
      const item = page
        .locator('.pane', { has: page.locator('.pane-header', { hasText: 'Local Models' }) })
        .locator('.monaco-list-row', { hasText: 'remote-model' })
        .first();
      const verify = await contextMenuItem(page, item, 'Verify Model');
      await page.screenshot({ path: join(shots, 'local-context-menu.png') });
      await verify.click();
      await page
        .locator('.notification-list-item', { hasText: 'remote-model verified' })
        .first()
        .waitFor({ state: 'visible' });
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
      await page.screenshot({ path: join(shots, 'download-model-quick-pick.png') });
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
      await page.screenshot({ path: join(shots, 'running-extensions.png') });
    });
    ok = true;
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
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
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    console.error(err?.message ?? err);
    process.exit(1);
  },
);
