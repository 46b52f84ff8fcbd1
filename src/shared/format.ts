// The one way Silmaril writes sizes, rates, durations, relative times and counts for people: the CLI, the views and
// the webview all go through here, so "256 KiB" in a terminal is "256 KiB" in the editor (docs/formatting.md).
// Pure functions, no Node or vscode imports: the webview bundle imports this file too.

/** What every formatter prints for a value it cannot show honestly (NaN, negative size, unknown ETA). */
export const UNKNOWN = '—';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * Below this many bytes per second a rate prints as "0 B/s": what moves then is keepalives, DHT chatter and the tail
 * of a decaying average, not a transfer, and "↓ 1 B/s" on a finished download reads as a bug.
 */
export const RATE_FLOOR = 1024;

/** Three significant digits: 1.50, 15.0, 150 (never "1.5" next to "15.00"). */
function sig3(v: number): string {
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/**
 * A byte count in binary units with three significant digits: "0 B", "512 B", "1.00 KiB", "256 KiB", "1.50 GiB".
 * Bytes are whole ("512 B"); a value that rounds up to 1024 of a unit moves to the next ("1.00 MiB", not "1024 KiB").
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return UNKNOWN;
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  let text = sig3(v);
  if (Number(text) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
    text = sig3(v);
  }
  return `${text} ${UNITS[u]}`;
}

/**
 * A transfer rate: "0 B/s" when idle (below RATE_FLOOR, or negative), otherwise formatBytes + "/s" ("2.00 MiB/s").
 * An unknown rate (NaN, undefined) is UNKNOWN, which is not the same as idle.
 */
export function formatRate(bytesPerSecond: number | undefined | null): string {
  if (bytesPerSecond === undefined || bytesPerSecond === null || Number.isNaN(bytesPerSecond)) return UNKNOWN;
  if (!Number.isFinite(bytesPerSecond)) return UNKNOWN;
  if (bytesPerSecond < RATE_FLOOR) return '0 B/s';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * A duration, largest two units: "0.4 s", "45 s", "1 min 20 s", "2 h 5 min", "3 d 4 h". Under 10 s keeps one decimal
 * when the value has one (so a quick hash says "0.4 s", not "0 s"); from a minute on, whole units only.
 */
export function formatDuration(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds) || seconds < 0) return UNKNOWN;
  if (seconds < 10 && !Number.isInteger(seconds)) {
    const tenths = Math.round(seconds * 10) / 10;
    if (tenths < 10) return `${Number.isInteger(tenths) ? tenths : tenths.toFixed(1)} s`;
  }
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    small ? `${big} ${bigUnit} ${small} ${smallUnit}` : `${big} ${bigUnit}`;
  if (s < 3600) return pair(Math.floor(s / 60), 'min', s % 60, 's');
  if (s < 86400) return pair(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'min');
  return pair(Math.floor(s / 86400), 'd', Math.floor((s % 86400) / 3600), 'h');
}

/**
 * Time left: formatDuration of whole seconds rounded up ("1 s" until it is done, never "0 s" while bytes remain).
 * UNKNOWN when nothing moves (undefined, null, Infinity).
 */
export function formatEta(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds) || seconds < 0) return UNKNOWN;
  return formatDuration(Math.ceil(seconds));
}

/**
 * How long ago (or from now) a moment is: "just now" (under 5 s), "12 s ago", "2 min ago", "3 h ago", "2 days ago";
 * from 30 days on, the date ("2026-01-03"). Future moments say "in 2 min". `when` is a Date or epoch milliseconds.
 */
export function formatAgo(when: Date | number | undefined | null, now: number = Date.now()): string {
  if (when === undefined || when === null) return 'never';
  const t = typeof when === 'number' ? when : when.getTime();
  if (!Number.isFinite(t)) return UNKNOWN;
  const diff = (now - t) / 1000;
  const abs = Math.abs(diff);
  if (abs < 5) return 'just now';
  let text: string;
  if (abs < 60) text = `${Math.floor(abs)} s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)} min`;
  else if (abs < 86400) text = `${Math.floor(abs / 3600)} h`;
  else if (abs < 30 * 86400) text = plural(Math.floor(abs / 86400), 'day');
  else return new Date(t).toISOString().slice(0, 10);
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** A count and its noun: "1 peer", "0 peers", "3 files"; irregular plurals are passed in ("1 entry", "2 entries"). */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}

/**
 * A count for people: whole numbers as they are below 10 000 ("9999"), then compact with three significant digits
 * ("12.3K", "7.24B") — for parameter counts, download counts, peers. Not for bytes (formatBytes).
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return UNKNOWN;
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  if (a < 10000) return sign + String(Math.round(a));
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (let i = 0; i < steps.length; i++) {
    const [base, suffix] = steps[i];
    if (a >= base) {
      const text = sig3(a / base);
      // 999.96K rounds to "1000K": say "1.00M" instead.
      if (Number(text) >= 1000 && i > 0) return `${sign}${sig3(a / steps[i - 1][0])}${steps[i - 1][1]}`;
      return `${sign}${text}${suffix}`;
    }
  }
  return sign + String(Math.round(a));
}

/**
 * A fraction done as a percentage: "0%", "42%", "99.9%", "100%". Whole percents except just below the end, and
 * never rounds up to "100%" before it is complete (a 99.96% download says "99.9%").
 */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return UNKNOWN;
  const f = Math.min(1, Math.max(0, fraction));
  if (f >= 1) return '100%';
  const pct = f * 100;
  if (pct >= 99) return `${(Math.floor(pct * 10) / 10).toFixed(1)}%`;
  return `${Math.floor(pct)}%`;
}
