// Bulk ed25519 verification on worker threads: a 100,000-entry catalog is 100,000 verifies (~80 us each with
// node:crypto here), which spread over the cores instead of blocking the extension host for seconds.
// The worker is a small inline script (eval), so the bundles need no extra entry point.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { verifySignature } from './ed25519.js';

export interface VerifyJob {
  body: Uint8Array;
  sig: Uint8Array;
  pub: Uint8Array;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', (m) => {
  const buf = Buffer.from(m.buf);
  const off = m.offsets;
  const n = off.length / 2;
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = off[2 * i], len = off[2 * i + 1];
    const p = b + len + 64;
    try {
      // Parsed keys found by 48 bits of the key, confirmed byte for byte (no hex string per verify).
      const tag = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16)) + (buf[p + 3] | (buf[p + 4] << 8) | (buf[p + 5] << 16)) * 0x1000000;
      let e = keys.get(tag);
      if (!e || buf.compare(e.pub, 0, 32, p, p + 32) !== 0) {
        const pub = Buffer.from(buf.subarray(p, p + 32));
        e = { pub, k: createPublicKey({ key: Buffer.concat([PREFIX, pub]), format: 'der', type: 'spki' }) };
        if (keys.size > 100000) keys.clear();
        keys.set(tag, e);
      }
      ok[i] = verify(null, buf.subarray(b, b + len), e.k, buf.subarray(b + len, b + len + 64)) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  }
  parentPort.postMessage({ id: m.id, ok }, [ok.buffer]);
});
`;

/** Below this many jobs the cost of shipping them to workers is not worth it. */
export const POOL_THRESHOLD = 512;

export class VerifyPool {
  private workers: Worker[] = [];
  private nextId = 0;
  private pending = new Map<number, (ok: Uint8Array) => void>();
  private busy = new Map<Worker, number>();

  constructor(readonly size = Math.max(1, Math.min(availableParallelism(), 8))) {}

  private ensure(): Worker[] {
    if (this.workers.length) return this.workers;
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: { id: number; ok: Uint8Array }) => {
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.(m.ok);
      });
      w.on('error', () => {});
      w.unref();
      this.workers.push(w);
    }
    return this.workers;
  }

  /** One boolean per job, in order. */
  async verify(jobs: VerifyJob[]): Promise<boolean[]> {
    if (jobs.length < POOL_THRESHOLD) return jobs.map((j) => verifySignature(j.body, j.sig, j.pub));
    const workers = this.ensure();
    const per = Math.ceil(jobs.length / workers.length);
    const parts = await Promise.all(
      workers.map((w, wi) => {
        const slice = jobs.slice(wi * per, (wi + 1) * per);
        let total = 0;
        for (const j of slice) total += j.body.length + 96;
        const buf = new Uint8Array(total);
        const offsets = new Int32Array(slice.length * 2);
        let at = 0;
        slice.forEach((j, i) => {
          offsets[2 * i] = at;
          offsets[2 * i + 1] = j.body.length;
          buf.set(j.body, at);
          buf.set(j.sig, at + j.body.length);
          buf.set(j.pub, at + j.body.length + 64);
          at += j.body.length + 96;
        });
        const id = this.nextId++;
        return new Promise<Uint8Array>((resolve) => {
          // Referenced while it works (an awaited result must keep the process alive), unreferenced when idle. Calls
          // overlap (merge sends slices while parsing the next), so count what each worker has in hand.
          if ((this.busy.get(w) ?? 0) === 0) w.ref();
          this.busy.set(w, (this.busy.get(w) ?? 0) + 1);
          this.pending.set(id, (ok) => {
            const left = this.busy.get(w)! - 1;
            this.busy.set(w, left);
            if (left === 0) w.unref();
            resolve(ok);
          });
          w.postMessage({ id, buf, offsets }, [buf.buffer, offsets.buffer]);
        });
      }),
    );
    const out: boolean[] = [];
    for (const p of parts) for (const b of p) out.push(b === 1);
    return out;
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

let shared: VerifyPool | undefined;
/** The process-wide pool (workers start on first bulk use and never keep the process alive). */
export function sharedVerifyPool(): VerifyPool {
  shared ??= new VerifyPool();
  return shared;
}
