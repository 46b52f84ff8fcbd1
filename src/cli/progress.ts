// Human sizes, the progress line long commands print on stderr (never with --json), and Ctrl-C handling for them.

export function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export interface Progress {
  update(done: number, total: number): void;
  end(): void;
}

/** `<verb> 42% 1.2 GiB of 3.0 GiB, 300 MiB/s`: redrawn in place on a terminal, one line every 5 s otherwise. */
export function progressLine(verb: string, stream: NodeJS.WriteStream = process.stderr): Progress {
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
      const pct = total ? Math.floor((done / total) * 100) : 100;
      const line = `${verb} ${pct}% ${human(done)} of ${human(total)}, ${human(rate)}/s`;
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
): Promise<T | typeof INTERRUPTED> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = json ? undefined : progressLine(verb);
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
