// A benchmark's child process that prints one JSON object per line (silmaril --json, the libtorrent helpers): its
// lines are kept, stamped with when they arrived, and can be waited for.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export function startJsonProcess(cmd, args, cwd) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd });
  const lines = [];
  const waiters = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    line.at = performance.now();
    lines.push(line);
    for (const w of [...waiters]) {
      if (!w.pred(line)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    child,
    lines,
    exited,
    /** The first line (seen or to come) matching `pred`; rejects if the process exits first. */
    waitFor(pred, what) {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        exited.then((code) => reject(new Error(`${what}: exited ${code} first\n${stderr.slice(-2000)}`)));
      });
    },
    /** Closes its stdin (the libtorrent helpers stop on that), sends SIGTERM and waits for the exit. */
    async stop() {
      child.stdin.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
}
