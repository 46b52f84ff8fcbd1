// Bundles the extension tests (test/vscode/*.test.ts; *.untrusted.ts for Restricted Mode) to out/test/*.js (cjs):
// the format both code-server's test payload and @vscode/test-cli load. `vscode` and `mocha` stay external: the host provides the first, and the test files
// must share the runner's one mocha instance.
import esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { aliases } from '../build/aliases.mjs';
import { root } from './code-server.mjs';

export async function buildTests() {
  const src = join(root, 'test', 'vscode');
  const outdir = join(root, 'out', 'test');
  rmSync(outdir, { recursive: true, force: true });
  const entryPoints = readdirSync(src)
    .filter((n) => n === 'index.ts' || n.endsWith('.test.ts') || n.endsWith('.untrusted.ts'))
    .map((n) => join(src, n));
  await esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['vscode', 'mocha'],
    alias: aliases,
    sourcemap: 'inline',
    logLevel: 'warning',
    define: { 'import.meta.url': '__import_meta_url' },
    banner: { js: 'const __import_meta_url = require("url").pathToFileURL(__filename).href;' },
  });
  return outdir;
}

if (process.argv[1] && process.argv[1].endsWith('build-tests.mjs')) {
  await buildTests();
}
