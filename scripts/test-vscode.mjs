// `npm run test:vscode`: runs the extension tests (test/vscode) inside a real VS Code. No desktop VS Code can be
// downloaded here, so this starts code-server (scripts/code-server.mjs) and opens its test payload URL in Debian's
// Chromium through playwright-core; the test entry writes a results file, read here. Any failure, a missing results
// file or a timeout fails the script. On a desktop machine `npx vscode-test` (.vscode-test.mjs) runs the same files.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTests } from './build-tests.mjs';
import { devHostUrl, root, startCodeServer } from './code-server.mjs';
import { launchBrowser } from './browser.mjs';
import { writeSampleWorkspace } from './sample-workspace.mjs';

const TIMEOUT_MS = Number(process.env.SILMARIL_TEST_TIMEOUT_MS ?? 8 * 60_000);

/** On failure: the tail of the extension's LogOutputChannel (code-server keeps it under the profile's logs). */
function printExtensionLog(profile) {
  const found = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/Silmaril\.log$/.test(e.name)) found.push(p);
    }
  };
  try {
    walk(join(profile, 'user-data', 'logs'));
  } catch {}
  for (const f of found) console.error(`--- ${f} (tail)\n${readFileSync(f, 'utf8').split('\n').slice(-60).join('\n')}`);
}

/** One code-server window running the tests of one mode; returns the number of failures (or 1 on no results). */
async function runPass(mode, outdir) {
  const tmp = mkdtempSync(join(tmpdir(), 'silmaril-vscode-test-'));
  const workspace = writeSampleWorkspace(join(tmp, 'workspace'));
  const resultsFile = join(tmp, 'results.json');
  const trusted = mode === 'trusted';
  const server = await startCodeServer({
    folder: workspace,
    trust: trusted ? 'off' : 'on',
    env: {
      SILMARIL_TEST_RESULTS: resultsFile,
      SILMARIL_TEST_TMP: tmp,
      SILMARIL_TEST_MODE: mode,
      SILMARIL_HOME: join(tmp, 'silmaril-home'),
      SILMARIL_REPO: root,
      // The Hugging Face cache the extension sees: a folder of this run that test/vscode/hf-*.test.ts fill (the
      // extension host inherits code-server's environment). The Hub is a dead loopback port: no test reaches out.
      HF_HUB_CACHE: join(tmp, 'hf-cache'),
      HF_HOME: join(tmp, 'hf-home'),
      HF_ENDPOINT: 'http://127.0.0.1:9',
    },
    settings: { 'silmaril.dht.enabled': false, 'silmaril.dht.bootstrap': ['none'] },
  });
  const browser = await launchBrowser();
  const consoleLines = [];
  let exitCode = 1;
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
    const url = devHostUrl(server.url, { folder: workspace, testsPath: join(outdir, 'index.js') });
    console.log(`running the ${mode}-workspace extension tests in code-server ${server.url}`);
    await page.goto(url);
    const deadline = Date.now() + TIMEOUT_MS;
    while (!existsSync(resultsFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    if (!existsSync(resultsFile)) {
      console.error(`no results after ${TIMEOUT_MS / 1000} s; browser console:\n${consoleLines.slice(-80).join('\n')}`);
      console.error(`code-server output:\n${server.output().slice(-6000)}`);
      return 1;
    }
    // The file is written in one call; a short wait covers a reader racing the writer.
    await new Promise((r) => setTimeout(r, 200));
    const { failures, results, notes = [] } = JSON.parse(readFileSync(resultsFile, 'utf8'));
    for (const n of notes) console.log(`note: ${n}`);
    for (const r of results) {
      const mark = r.state === 'passed' ? 'ok  ' : r.state === 'pending' ? 'skip' : 'FAIL';
      console.log(`${mark} ${r.title}${r.durationMs !== undefined ? ` (${r.durationMs} ms)` : ''}`);
      if (r.error) console.log(r.error.replace(/^/gm, '     '));
    }
    const passed = results.filter((r) => r.state === 'passed').length;
    console.log(`${passed} passed, ${failures} failed, ${results.length - passed - failures} pending\n`);
    if (process.env.SILMARIL_TEST_VERBOSE) console.log(consoleLines.join('\n'));
    // No test at all is a failure, unless SILMARIL_TEST_GREP filtered this pass empty on purpose.
    exitCode = failures === 0 && (results.length > 0 || process.env.SILMARIL_TEST_GREP) ? 0 : 1;
    return exitCode;
  } finally {
    if (exitCode !== 0) printExtensionLog(server.profile);
    await browser.close().catch(() => {});
    await server.stop();
    // Processes just stopped may still be flushing into it: retry, and never fail a passing run over cleanup.
    if (exitCode === 0) {
      try {
        rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (err) {
        console.error(`could not remove ${tmp}: ${err.message}`);
      }
    } else console.error(`test files kept in ${tmp}`);
  }
}

async function main() {
  if (!existsSync(join(root, 'dist', 'extension.js'))) throw new Error('dist/extension.js is missing: npm run build');
  const outdir = await buildTests();
  const trusted = await runPass('trusted', outdir);
  const untrusted = await runPass('untrusted', outdir);
  return trusted || untrusted ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err?.stack ?? err);
    process.exit(1);
  },
);
