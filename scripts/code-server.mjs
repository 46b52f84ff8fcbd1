// code-server 4.100.3 (VS Code 1.100.3, the newest that runs on Node 20), installed on demand into .cache/code-server
// and started on 127.0.0.1. Used by `npm start`, `npm run test:vscode` and `npm run test:e2e`.
// Why each install step: ../../shared/reference/toolchain.md, "A real VS Code here" (a plain npm install fails).
// Needs the apt packages in APT_PACKAGES (installed here when run as root, as on CI machines).
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, URLSearchParams } from 'node:url';

export const VERSION = '4.100.3';
export const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = process.env.SILMARIL_CODE_SERVER_DIR ?? join(root, '.cache', 'code-server');
const pkgDir = join(cacheDir, 'node_modules', 'code-server');
const vscodeDir = join(pkgDir, 'lib', 'vscode');
const marker = join(cacheDir, `.installed-${VERSION}`);
export const codeServerBin = join(pkgDir, 'out', 'node', 'entry.js');

function run(cmd, args, cwd) {
  const env = {
    ...process.env,
    npm_config_unsafe_perm: 'true',
    npm_config_yes: 'true',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0)
    throw new Error(`code-server install: \`${cmd} ${args.join(' ')}\` failed in ${cwd} (exit ${r.status})`);
}

function link(target, path) {
  rmSync(path, { force: true, recursive: false });
  symlinkSync(target, path);
}

/** The Debian packages code-server's native modules need to build, and ripgrep for its search. */
export const APT_PACKAGES = [
  'build-essential',
  'pkg-config',
  'libkrb5-dev',
  'libx11-dev',
  'libxkbfile-dev',
  'libsecret-1-dev',
  'ripgrep',
];

/** Installs the missing APT_PACKAGES when running as root on Debian; otherwise says which command to run. */
function ensureAptPackages(say) {
  const missing = APT_PACKAGES.filter((p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return;
  const hint = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0 || spawnSync('which', ['apt-get'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`code-server needs these Debian packages first: sudo ${hint}`);
  }
  say(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...missing],
  ]) {
    if (spawnSync('apt-get', args, { stdio: 'inherit', env }).status !== 0)
      throw new Error(`failed: apt-get ${args.join(' ')}`);
  }
}

/** Installs code-server once; later calls return at once. Returns the path of its entry script. */
export function ensureCodeServer({ quiet = false } = {}) {
  if (existsSync(marker) && existsSync(codeServerBin)) return codeServerBin;
  const say = (m) => quiet || console.error(`[code-server] ${m}`);
  ensureAptPackages(say);
  const rg = ['/usr/bin/rg', '/usr/local/bin/rg'].find((p) => existsSync(p));
  if (!rg) throw new Error('code-server needs ripgrep: apt-get install ripgrep (see scripts/code-server.mjs)');
  say(`installing code-server ${VERSION} into ${cacheDir} (about 2 minutes, once)`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(join(cacheDir, 'package.json'), '{ "private": true, "name": "silmaril-code-server-cache" }\n');
  run('npm', ['install', '--ignore-scripts', '--no-save', '--no-package-lock', `code-server@${VERSION}`], cacheDir);
  run('npm', ['rebuild', 'argon2'], cacheDir);
  run('npm', ['install', '--omit=dev', '--ignore-scripts'], vscodeDir);
  run(
    'npm',
    ['rebuild', '@parcel/watcher', '@vscode/deviceid', '@vscode/spdlog', 'kerberos', 'native-watchdog', 'node-pty'],
    vscodeDir,
  );
  const rgDest = join(vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
  mkdirSync(dirname(rgDest), { recursive: true });
  copyFileSync(rg, rgDest);
  chmodSync(rgDest, 0o755);
  link('node_modules', join(vscodeDir, 'node_modules.asar'));
  link('code-linux.sh', join(vscodeDir, 'bin', 'remote-cli', 'code-server'));
  link('browser-linux.sh', join(vscodeDir, 'bin', 'helpers', 'browser.sh'));
  run('npm', ['install', '--omit=dev'], join(vscodeDir, 'extensions'));
  writeFileSync(marker, new Date().toISOString() + '\n');
  say('installed');
  return codeServerBin;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(base, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited early (code ${child.exitCode})`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer ${base}/healthz within ${timeoutMs / 1000} s`);
}

/**
 * Starts code-server on 127.0.0.1 with a throwaway HOME, user data and extensions folders (so a run never touches
 * the user's own VS Code), workspace trust off and the gallery pointed at a dead loopback URL (no internet here).
 * `settings` is merged into the user settings; `trust: 'on'` opens folders in Restricted Mode; `vsix` installs that
 * package first. Returns { url, port, stop(), profile }.
 */
export async function startCodeServer({
  folder,
  port,
  settings = {},
  log = false,
  env = {},
  trust = 'off',
  vsix,
} = {}) {
  const bin = ensureCodeServer();
  port ??= await freePort();
  const profile = mkdtempSync(join(tmpdir(), 'silmaril-code-server-'));
  const userData = join(profile, 'user-data');
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        // Off, or Restricted Mode keeps extensions from activating; 'on' is for the Restricted Mode tests.
        'security.workspace.trust.enabled': trust === 'on',
        'security.workspace.trust.startupPrompt': 'never',
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'update.mode': 'none',
        'workbench.enableExperiments': false,
        ...settings,
      },
      null,
      2,
    ),
  );
  const args = [
    bin,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--user-data-dir',
    userData,
    '--extensions-dir',
    join(profile, 'extensions'),
  ];
  if (trust !== 'on') args.push('--disable-workspace-trust');
  if (folder) args.push(folder);
  const childEnv = {
    ...process.env,
    HOME: join(profile, 'home'),
    EXTENSIONS_GALLERY: JSON.stringify({
      serviceUrl: 'http://127.0.0.1:9/gallery',
      itemUrl: 'http://127.0.0.1:9/item',
    }),
    ...env,
  };
  if (vsix) {
    // The packaged extension, installed as a user would (`code-server --install-extension silmaril.vsix`).
    const r = spawnSync(
      process.execPath,
      [bin, '--user-data-dir', userData, '--extensions-dir', join(profile, 'extensions'), '--install-extension', vsix],
      { env: childEnv, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`installing ${vsix} failed:\n${r.stdout}${r.stderr}`);
  }
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      HOME: join(profile, 'home'),
      EXTENSIONS_GALLERY: JSON.stringify({
        serviceUrl: 'http://127.0.0.1:9/gallery',
        itemUrl: 'http://127.0.0.1:9/item',
      }),
      ...env,
    },
    stdio: ['ignore', log ? 'inherit' : 'pipe', log ? 'inherit' : 'pipe'],
    // Its own process group: stop() ends code-server AND its extension host (which outlives a plain SIGTERM to
    // code-server for a moment and, stopping its Silmaril node, writes resume files into the profile).
    detached: true,
  });
  const group = (signal) => {
    try {
      process.kill(-child.pid, signal);
      return true;
    } catch {
      return false; // ESRCH: every process of the group is gone
    }
  };
  const orphanGuard = () => group('SIGKILL');
  process.once('exit', orphanGuard);
  let output = '';
  if (!log) {
    child.stdout.on('data', (d) => (output = (output + d).slice(-20000)));
    child.stderr.on('data', (d) => (output = (output + d).slice(-20000)));
  }
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, child, 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${output}`, { cause: err });
  }
  const stop = async () => {
    process.off('exit', orphanGuard);
    // SIGTERM to the whole group, then wait until no process of it is left (SIGKILL after 10 s): only then is
    // nothing writing into the profile, and removing it is final (no resume file reappears afterwards).
    group('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (group(0) && Date.now() < deadline + 5000) {
      if (Date.now() > deadline) group('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  return { url, port, stop, profile, child, output: () => output };
}

/** The workbench URL that loads an extension under development (and optionally its tests) from this machine. */
export function devHostUrl(base, { folder, extensionPath = root, testsPath } = {}) {
  const host = new URL(base).host;
  const remote = (p) => `vscode-remote://${host}${p}`;
  const payload = [['extensionDevelopmentPath', remote(extensionPath)]];
  if (testsPath) payload.push(['extensionTestsPath', remote(testsPath)]);
  const q = new URLSearchParams();
  if (folder) q.set('folder', folder);
  q.set('payload', JSON.stringify(payload));
  return `${base}/?${q.toString()}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `node scripts/code-server.mjs install`: the install step alone (CI runs it before the tests).
  try {
    console.log(ensureCodeServer());
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
