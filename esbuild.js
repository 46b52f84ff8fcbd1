// Bundles the extension, the command line and the hashing worker into dist/ (cjs, node20), and the Transfers
// webview's page into dist/webview/ (a browser script importing the same src/ui/messages.ts as the host).
// No native addon may load in VS Code's Electron extension host: build/aliases.mjs swaps them for stubs.
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

async function main() {
  const { aliases } = await import('./build/aliases.mjs');
  const dist = path.join(__dirname, 'dist');
  fs.mkdirSync(dist, { recursive: true });
  // dist/ is CommonJS whatever the sources are.
  fs.writeFileSync(path.join(dist, 'package.json'), '{ "type": "commonjs" }\n');
  fs.copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join(dist, 'sql-wasm.wasm'));

  const ctx = await esbuild.context({
    entryPoints: {
      extension: 'src/extension.ts',
      // `silmaril`: a small launcher (V8 flags, code cache) that runs the command line's bundle, cli-main.js.
      cli: 'src/cli-launch.ts',
      'cli-main': 'src/cli.ts',
      'hash-worker': 'src/torrent/hash-worker.ts',
    },
    outdir: dist,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['vscode'],
    alias: aliases,
    minify: production,
    sourcemap: !production,
    logLevel: 'warning',
    // ESM dependencies read import.meta.url; in a cjs bundle it must come from __filename.
    define: { 'import.meta.url': '__import_meta_url' },
    banner: { js: 'const __import_meta_url = require("url").pathToFileURL(__filename).href;' },
  });
  const webview = await esbuild.context({
    entryPoints: { transfers: 'src/webview/transfers.ts' },
    outdir: path.join(dist, 'webview'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: production,
    sourcemap: !production,
    logLevel: 'warning',
  });
  if (watch) {
    await Promise.all([ctx.watch(), webview.watch()]);
    console.log('watching for changes...');
  } else {
    await Promise.all([ctx.rebuild(), webview.rebuild()]);
    await Promise.all([ctx.dispose(), webview.dispose()]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
