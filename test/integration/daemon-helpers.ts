// Running `silmaril daemon` processes (the bundled CLI) in a test: start them, read their JSON events, wait for a
// condition with the daemons' output in the failure message, and stop them all.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface RunningDaemon {
  /** The `ready` line. */
  ready: any;
  /** Every JSON line printed so far (ready, published, refreshed...). */
  events: any[];
  child: ChildProcess;
}

export class Daemons {
  private readonly children: ChildProcess[] = [];
  private readonly logs: string[] = [];

  /** Starts a daemon on a private DHT (`bootstrap` '' for none) and resolves once it is ready. */
  start(home: string, bootstrap: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningDaemon> {
    const args = [cli, 'daemon', '--home', home, '--dht-bootstrap', bootstrap, '--no-lsd', '--refresh', '2', '--json'];
    const child = spawn(process.execPath, [...args, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.children.push(child);
    const log = this.logs.push('') - 1;
    const events: any[] = [];
    child.stderr!.on('data', (d) => (this.logs[log] += `[${home}] ${d}`));
    return new Promise((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d;
        this.logs[log] += `[${home}] ${d}`;
        for (const line of buf.split('\n').slice(0, -1)) {
          const ev = JSON.parse(line);
          events.push(ev);
          if (ev.event === 'ready') resolve({ ready: ev, events, child });
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
      child.on('exit', (code) => reject(new Error(`daemon exited ${code}: ${this.logs[log]}`)));
    });
  }

  /** Polls `probe` until it returns a value; on timeout the error carries the daemons' recent output. */
  async until<T>(what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${this.logs.join('\n').slice(-6000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Runs `silmaril <args>` (dist/cli.js) until its `done` line, killed if it is not done within 90 s. `exit`:
   * `required`, it must then exit by itself with code 0 (the done line resolves only then); `kill`, it is killed
   * once done.
   */
  untilDone(args: string[], exit: 'required' | 'kill'): Promise<any> {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${args[0]} timed out\n${err.slice(-2000)}`));
      }, 90_000);
      let done: any;
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const line of lines) {
          const ev = JSON.parse(line);
          if (ev.event !== 'done') continue;
          done = ev;
          if (exit === 'kill') {
            clearTimeout(timer);
            child.kill('SIGKILL');
            resolve(ev);
          }
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (done && (exit === 'kill' || code === 0)) resolve(done);
        else reject(new Error(`${args[0]} exited ${code} ${done ? 'after' : 'before'} done: ${err.slice(-2000)}`));
      });
    });
  }

  async stopAll(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}

const run = promisify(execFile);

/** `silmaril <args> --json` run to its end (at most 90 s): its JSON lines. */
export async function cliJson(args: string[], env: NodeJS.ProcessEnv = {}): Promise<any[]> {
  const { stdout } = await run(process.execPath, [cli, ...args], { timeout: 90_000, env: { ...process.env, ...env } });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** A tiny model folder (300 kB of patterned weights and a model card: MIT, tag `tiny`); resolves with the weights. */
export async function tinyModel(folder: string): Promise<Buffer> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(folder, { recursive: true });
  const weights = Buffer.alloc(300_000);
  for (let i = 0; i < weights.length; i++) weights[i] = (i * 7919) % 251;
  await writeFile(join(folder, 'model.gguf.part'), weights);
  await writeFile(join(folder, 'README.md'), '---\nlicense: mit\ntags: [tiny]\n---\nA tiny test model.\n');
  return weights;
}
