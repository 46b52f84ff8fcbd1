// @vscode/test-cli config for desktop machines: `npm run test:vscode:desktop` downloads VS Code with
// @vscode/test-electron and runs the same extension tests as `npm run test:vscode` (which uses code-server, because
// no desktop VS Code can be downloaded on the CI machine). The second config is the Restricted Mode pass.
import { defineConfig } from '@vscode/test-cli';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleWorkspace } from './scripts/sample-workspace.mjs';

function workspace(name) {
  const tmp = mkdtempSync(join(tmpdir(), `silmaril-vscode-test-${name}-`));
  const ws = writeSampleWorkspace(join(tmp, 'workspace'));
  // No public DHT from a test run.
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  writeFileSync(
    join(ws, '.vscode', 'settings.json'),
    JSON.stringify({ 'silmaril.dht.enabled': false, 'silmaril.dht.bootstrap': [] }),
  );
  return { tmp, ws };
}

const trusted = workspace('trusted');
const untrusted = workspace('untrusted');
const env = (w, mode) => ({
  SILMARIL_TEST_TMP: w.tmp,
  SILMARIL_TEST_MODE: mode,
  SILMARIL_HOME: join(w.tmp, 'silmaril-home'),
  SILMARIL_REPO: process.cwd(),
});

export default defineConfig([
  {
    label: 'extension',
    files: 'out/test/*.test.js',
    version: '1.100.3',
    workspaceFolder: trusted.ws,
    launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
    env: env(trusted, 'trusted'),
    mocha: { ui: 'bdd', timeout: 120_000 },
  },
  {
    label: 'restricted',
    files: 'out/test/*.untrusted.js',
    version: '1.100.3',
    workspaceFolder: untrusted.ws,
    launchArgs: ['--disable-extensions'],
    env: env(untrusted, 'untrusted'),
    mocha: { ui: 'bdd', timeout: 120_000 },
  },
]);
