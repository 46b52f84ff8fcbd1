// @vscode/test-cli config for desktop machines (`npx vscode-test` after `npm run build && node scripts/build-tests.mjs`):
// downloads VS Code with @vscode/test-electron and runs the same extension tests as `npm run test:vscode`
// (which uses code-server instead, because no desktop VS Code can be downloaded on the CI machine).
import { defineConfig } from '@vscode/test-cli';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleWorkspace } from './scripts/sample-workspace.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'silmaril-vscode-test-'));
const workspace = writeSampleWorkspace(join(tmp, 'workspace'));

export default defineConfig({
  label: 'extension',
  files: 'out/test/*.test.js',
  version: '1.100.3',
  workspaceFolder: workspace,
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  env: { SILMARIL_TEST_TMP: tmp, SILMARIL_HOME: join(tmp, 'silmaril-home'), SILMARIL_REPO: process.cwd() },
  mocha: { ui: 'bdd', timeout: 120_000 },
});
