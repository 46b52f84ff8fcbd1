// `dist/cli.js`, what `silmaril` runs: sets V8's flags for the command (cli/jit.ts), then runs the command line's
// bundle (`dist/cli-main.js`, from src/cli.ts) from a V8 code cache when one was made for exactly this bundle, this
// Node and these flags.
//
// Why: every `silmaril` process parses and compiles the 2.2 MB bundle, then compiles each function it calls on
// first use: ~0.2 s of a `get`'s CPU before its first byte. When 16 downloads start at once on 2 cores (bench:swarm,
// a lab pulling one model), that start-up is what the first byte waits for. With the cache, V8 reads that work
// back instead: the first byte came at 1.9-2.0 s instead of 2.3-2.4 s at N = 16 (docs/swarm.md).
//
// The cache lives in the user's own cache folder ($XDG_CACHE_HOME or ~/.cache, then silmaril/v8/), never a shared
// temporary folder: a code cache is code. Its name is a hash of the bundle's bytes, the Node version, the
// architecture and the flags; V8 checks it again and rejects a mismatch, in which case the bundle compiles as usual and
// a fresh cache is written. It is written when a process that ran without one exits (so it holds the functions that
// run used), and replaced by a longer run's that compiled clearly more (the exit handler); any failure to read or
// write it only costs the time it would have saved.
// SILMARIL_CODE_CACHE=0 turns it off.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { tuneJit } from './cli/jit.js';

const bundle = path.join(__dirname, 'cli-main.js');
/** A run that used a cache and lasted this long offers a bigger one (see the exit handler). */
const REFRESH_AFTER_MS = 500;
// Before the bundle compiles: V8's flags are part of what a code cache is valid for.
const jit = tuneJit(process.argv[2]);
const source = readFileSync(bundle, 'utf8');

function cacheFile(): string | undefined {
  if (process.env.SILMARIL_CODE_CACHE === '0') return undefined;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const key = createHash('sha256')
    .update(source)
    .update(`\0${process.version}\0${process.arch}\0${jit ? 'baseline' : 'full'}`)
    .digest('hex')
    .slice(0, 32);
  return path.join(base, 'silmaril', 'v8', `cli-${key}.bin`);
}

const file = cacheFile();
let cachedData: Buffer | undefined;
try {
  if (file) cachedData = readFileSync(file);
} catch {
  // none yet
}
const script = new vm.Script(Module.wrap(source), {
  filename: bundle,
  cachedData,
  // The bundle has no import() of its own (esbuild inlines them); this keeps Node's loader for any that remains.
  ...(vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER
    ? { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }
    : {}),
});
const status = !file ? 'off' : !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used';
if (process.env.SILMARIL_CODE_CACHE_DEBUG) process.stderr.write(`silmaril: code cache ${status}\n`);
const started = performance.now();
if (file) {
  process.once('exit', () => {
    try {
      // A cache made by a short run (`--version`, `--help`) holds little; a run that went on for a while replaces
      // it when it compiled clearly more. Short runs that used a cache never pay for making one.
      if (status === 'used' && performance.now() - started < REFRESH_AFTER_MS) return;
      const data = script.createCachedData();
      if (status === 'used' && data.length < cachedData!.length * 1.25) return;
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, data, { mode: 0o600 });
      renameSync(tmp, file);
      if (process.env.SILMARIL_CODE_CACHE_DEBUG) process.stderr.write(`silmaril: code cache written\n`);
    } catch {
      // A read-only home, a full disk: the next run compiles as this one did.
    }
  });
}

// Run it as Node runs a CommonJS file: its own module, require relative to it, __filename the bundle's.
const mod = new Module(bundle, module);
mod.filename = bundle;
const run = script.runInThisContext() as (...args: unknown[]) => void;
run.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, __dirname);
