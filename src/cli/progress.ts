// The progress line long commands print on stderr (never with --json), and Ctrl-C handling for them.
import { formatBytes, formatPercent, formatRate } from '../shared/format.js';

export interface Progress {
  update(done: number, total: number): void;
  end(): void;
}

/**
 * `<verb> 42% 1.20 GiB of 3.00 GiB, 300 MiB/s` (or `<verb> 42%` when `done`/`total` are not bytes): redrawn in
 * place on a terminal, one line every 5 s otherwise.
 */
export function progressLine(verb: string, stream: NodeJS.WriteStream = process.stderr, bytes = true): Progress {
  const tty = stream.isTTY;
  const every = tty ? 200 : 5000;
  const started = performance.now();
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = performance.now();
      if (now - last < every && done < total) return;
      last = now;
      const secs = (now - started) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const pct = `${verb} ${formatPercent(total ? done / total : 1)}`;
      const line = bytes ? `${pct} ${formatBytes(done)} of ${formatBytes(total)}, ${formatRate(rate)}` : pct;
      if (tty) {
        stream.write(`\r${line}\x1b[K`);
        shown = true;
      } else if (done < total) {
        stream.write(line + '\n');
      }
    },
    end() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** What `withProgress` returns when SIGINT or SIGTERM stopped the work. */
export const INTERRUPTED = Symbol('interrupted');

/**
 * Runs long work (hashing, verifying) with a progress line (unless `json`) and an AbortSignal that SIGINT and
 * SIGTERM trigger, so Ctrl-C stops the worker threads cleanly instead of killing the process mid-write.
 */
export async function withProgress<T>(
  verb: string,
  json: boolean,
  work: (signal: AbortSignal, onProgress?: (done: number, total: number) => void) => Promise<T>,
  bytes = true,
): Promise<T | typeof INTERRUPTED> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = json ? undefined : progressLine(verb, process.stderr, bytes);
  try {
    return await work(controller.signal, progress?.update);
  } catch (err) {
    if (controller.signal.aborted) return INTERRUPTED;
    throw err;
  } finally {
    progress?.end();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
