// V8's optimising compiler (TurboFan) for the transfer commands: off. A `silmaril get` or `seed` spends its CPU in
// native code (hashing, socket and file syscalls, copies); its JavaScript runs per 16 KiB block, not per byte. Yet
// TurboFan compiled ~0.3 s of CPU worth of functions on background threads in every downloader of a 16-peer swarm
// (perf, issue 9), and a 64 MiB `get` took 0.70-0.73 s of CPU with it against 0.60-0.67 s with only the baseline
// compiler (Sparkplug), with no loss at 256 MiB (bench:transfer: same MiB/s and CPU either way). On 2 cores, 17
// processes, that is the difference between CPU-bound and not. The catalog's bulk work (the daemon, the editor's
// extension host) keeps the full JIT: this is only for the processes that move bytes. SILMARIL_JIT=full restores it.
import { setFlagsFromString } from 'node:v8';

const BASELINE_ONLY = new Set(['get', 'seed']);

/** Caps V8's tiers at Sparkplug for the byte-moving commands; call before the command's code runs. */
export function tuneJit(command: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!command || !BASELINE_ONLY.has(command) || env.SILMARIL_JIT === 'full') return false;
  setFlagsFromString('--max-opt=1');
  return true;
}
