// Starts the bundled `silmaril tracker` (dist/cli.js) and waits for its {"event":"ready"} line.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface RunningTracker {
  child: ChildProcess;
  port: number;
  url: string;
  announce: string;
  stderr: () => string;
}

export function startTracker(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningTracker> {
  const child = spawn(process.execPath, [cli, 'tracker', '--json', '--port', '0', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tracker did not start: ${err}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tracker exited with ${code}: ${err}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const ready = JSON.parse(line);
      resolve({ child, port: ready.port, url: ready.url, announce: ready.announce, stderr: () => err });
    });
  });
}

export function stopTracker(t: RunningTracker | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!t || t.child.exitCode !== null || t.child.signalCode !== null) return Promise.resolve(t?.child.exitCode ?? null);
  return new Promise((resolve) => {
    t.child.once('exit', (code) => resolve(code));
    t.child.kill(signal);
  });
}
