// Shared by the extension tests: the extension's API, waiting for a condition, the headless CLI as a second node.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as vscode from 'vscode';
import type { SilmarilApi } from '../../src/extension.js';

export const ID = 'silmaril.silmaril';

/** A line for the run's summary (figures worth reporting; never asserted on time). */
export function note(line: string): void {
  const g = globalThis as { __silmarilNotes?: string[] };
  (g.__silmarilNotes ??= []).push(line);
}

export async function api(): Promise<SilmarilApi> {
  const ext = vscode.extensions.getExtension<SilmarilApi>(ID);
  if (!ext) throw new Error(`${ID} not loaded`);
  const a = ext.isActive ? ext.exports : await ext.activate();
  await a.controller.ready;
  return a;
}

/** Polls `check` until it returns a truthy value; fails with `what` after `ms`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export function repoRoot(): string {
  const r = process.env.SILMARIL_REPO;
  if (!r) throw new Error('SILMARIL_REPO is not set (scripts/test-vscode.mjs sets it)');
  return r;
}

export function testTmp(): string {
  const t = process.env.SILMARIL_TEST_TMP;
  if (!t) throw new Error('SILMARIL_TEST_TMP is not set');
  return t;
}

export interface CliNode {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stop(): Promise<void>;
  waitForLine(
    pred: (l: Record<string, unknown>) => boolean,
    what: string,
    ms?: number,
  ): Promise<Record<string, unknown>>;
}

/** Runs `node dist/cli.js <args> --json` (the headless node) and collects its JSON lines. */
export function cli(args: string[], env: Record<string, string> = {}): CliNode {
  // code-server's extension host is Node itself; desktop VS Code's is Electron, which runs as Node with
  // ELECTRON_RUN_AS_NODE. Either way process.execPath runs the bundled CLI.
  const nodeBin = process.env.SILMARIL_NODE ?? process.execPath;
  const child = spawn(nodeBin, [join(repoRoot(), 'dist', 'cli.js'), ...args], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  let closed = false;
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (l) => {
    try {
      lines.push(JSON.parse(l));
    } catch {}
  });
  rl.on('close', () => (closed = true));
  return {
    child,
    lines,
    async stop() {
      if (child.exitCode !== null || child.signalCode) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
    waitForLine(pred, what, ms = 60_000) {
      return waitFor(
        what,
        () => {
          if (spawnError) throw spawnError;
          const found = lines.find(pred);
          // Output can still be in flight when the process has exited: give up only once stdout is closed too.
          if (!found && closed && child.exitCode !== null) throw new Error(`cli exited ${child.exitCode}: ${stderr}`);
          return found;
        },
        ms,
      );
    },
  };
}

/** A small model folder (config.json, a model card, a valid safetensors file) with weights varied by `seed`. */
export function writeModel(dir: string, seed: number, floats = 200_000): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['TinyForCausalLM'], model_type: 'tiny' }));
  writeFileSync(join(dir, 'README.md'), `---\nlicense: mit\ntags:\n  - tiny\n---\n\n# tiny ${seed}\n\nA test model.\n`);
  const values = new Float32Array(floats);
  for (let i = 0; i < floats; i++) values[i] = Math.sin(i * seed) * 0.01;
  let header = JSON.stringify({ w: { dtype: 'F32', shape: [floats], data_offsets: [0, floats * 4] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([len, Buffer.from(header), Buffer.from(values.buffer)]));
  return dir;
}

/** Every file under `dir` (relative path → bytes), for byte-for-byte comparisons. */
export function readTree(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of readTree(dir, rel)) out.set(k, v);
    else out.set(rel, readFileSync(join(dir, rel)));
  }
  return out;
}

/** The Hugging Face cache the extension host sees (scripts/test-vscode.mjs sets HF_HUB_CACHE for the whole run). */
export function hfCache(): string {
  const c = process.env.HF_HUB_CACHE;
  if (!c) throw new Error('HF_HUB_CACHE is not set (scripts/test-vscode.mjs sets it)');
  return c;
}

export interface EntryStat {
  kind: 'file' | 'link' | 'dir';
  mtimeMs: number;
  /** A file's bytes, a link's target; empty for a folder. */
  bytes: Buffer;
}

/** Every entry under `dir` (links not followed), for "nothing was touched" checks. */
export function treeStat(dir: string, prefix = '', out = new Map<string, EntryStat>()): Map<string, EntryStat> {
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const full = join(dir, rel);
    const s = lstatSync(full);
    if (e.isSymbolicLink()) out.set(rel, { kind: 'link', mtimeMs: s.mtimeMs, bytes: Buffer.from(readlinkSync(full)) });
    else if (e.isDirectory()) {
      out.set(rel, { kind: 'dir', mtimeMs: s.mtimeMs, bytes: Buffer.alloc(0) });
      treeStat(dir, rel, out);
    } else out.set(rel, { kind: 'file', mtimeMs: s.mtimeMs, bytes: readFileSync(full) });
  }
  return out;
}
