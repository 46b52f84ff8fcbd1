// Human sizes and the progress line long commands print on stderr (never with --json).
// (`silmaril create` has its own copy from before this module existed; it can switch to this one.)

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
