// safetensors header: an 8-byte little-endian length, then that many bytes of JSON describing every tensor.
// Only those bytes are read; the weights are never touched.
import { open } from 'node:fs/promises';
import { HeaderError } from './reader.js';

export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

export interface SafetensorsInfo {
  tensorCount: number;
  /** Tensors per dtype, e.g. `{ BF16: 290, F32: 1 }`. */
  dtypes: Record<string, number>;
  parameters: number;
  /** The optional `__metadata__` string map. */
  metadata: Record<string, string>;
}

export async function readSafetensorsHeader(path: string): Promise<SafetensorsInfo> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size < 8) throw new HeaderError(`${path}: too short for a safetensors file`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const len = lenBuf.readBigUInt64LE(0);
    if (len > BigInt(Math.min(MAX_SAFETENSORS_HEADER, size - 8))) {
      throw new HeaderError(`${path}: safetensors header length ${len} is out of bounds`);
    }
    const json = Buffer.alloc(Number(len));
    await fh.read(json, 0, json.length, 8);
    let header: unknown;
    try {
      header = JSON.parse(json.toString('utf8'));
    } catch {
      throw new HeaderError(`${path}: safetensors header is not JSON`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) {
      throw new HeaderError(`${path}: safetensors header is not an object`);
    }
    const info: SafetensorsInfo = { tensorCount: 0, dtypes: {}, parameters: 0, metadata: {} };
    for (const [name, t] of Object.entries(header as Record<string, any>)) {
      if (name === '__metadata__') {
        if (t && typeof t === 'object') {
          for (const [k, v] of Object.entries(t)) if (typeof v === 'string') info.metadata[k] = v;
        }
        continue;
      }
      if (!t || typeof t.dtype !== 'string' || !Array.isArray(t.shape)) {
        throw new HeaderError(`${path}: tensor "${name}" has no dtype/shape`);
      }
      info.tensorCount++;
      info.dtypes[t.dtype] = (info.dtypes[t.dtype] ?? 0) + 1;
      info.parameters += t.shape.reduce((a: number, d: unknown) => a * (typeof d === 'number' ? d : 0), 1);
    }
    return info;
  } finally {
    await fh.close();
  }
}
