// GGUF (llama.cpp) header, versions 2 and 3: the key-value metadata and the tensor table, read with bounds (counts,
// string lengths, total bytes) so a hostile file cannot make us allocate or read without end. Weights are not read.
import { open } from 'node:fs/promises';
import { BoundedReader, HeaderError } from './reader.js';

export const MAX_GGUF_HEADER = 128 * 1024 * 1024;
const MAX_KV = 100_000;
const MAX_TENSORS = 1_000_000;
const MAX_STRING = 16 * 1024 * 1024;
const MAX_DIMS = 8;

export interface GgufInfo {
  version: number;
  tensorCount: number;
  architecture?: string;
  name?: string;
  /** From general.file_type, e.g. `Q4_K_M`. */
  quantization?: string;
  contextLength?: number;
  parameters: number;
  /** Scalar metadata (arrays are left out). */
  metadata: Record<string, string | number | boolean>;
}

// llama.cpp's llama_ftype numbering (general.file_type).
const FILE_TYPES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
};

// GGUF value types and the byte size of the fixed-size ones.
const FIXED: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

async function readString(r: BoundedReader): Promise<string> {
  const len = await r.u64();
  if (len > MAX_STRING) throw new HeaderError(`GGUF string of ${len} bytes`);
  return (await r.bytes(len)).toString('utf8');
}

async function readScalar(r: BoundedReader, type: number): Promise<string | number | boolean> {
  const b = await r.bytes(FIXED[type]);
  switch (type) {
    case 0:
      return b.readUInt8(0);
    case 1:
      return b.readInt8(0);
    case 2:
      return b.readUInt16LE(0);
    case 3:
      return b.readInt16LE(0);
    case 4:
      return b.readUInt32LE(0);
    case 5:
      return b.readInt32LE(0);
    case 6:
      return b.readFloatLE(0);
    case 7:
      return b.readUInt8(0) !== 0;
    case 10:
      return Number(b.readBigUInt64LE(0));
    case 11:
      return Number(b.readBigInt64LE(0));
    default:
      return b.readDoubleLE(0);
  }
}

async function readValue(r: BoundedReader, type: number): Promise<string | number | boolean | undefined> {
  if (type === STRING) return readString(r);
  if (type in FIXED) return readScalar(r, type);
  if (type !== ARRAY) throw new HeaderError(`unknown GGUF value type ${type}`);
  const itemType = await r.u32();
  const count = await r.u64();
  // Arrays (tokenizer vocabularies...) are skipped, not kept.
  if (itemType in FIXED) {
    await r.skip(count * FIXED[itemType]);
  } else if (itemType === STRING) {
    for (let i = 0; i < count; i++) await r.skip(await r.u64());
  } else {
    throw new HeaderError(`unsupported GGUF array item type ${itemType}`);
  }
  return undefined;
}

export async function readGgufHeader(path: string): Promise<GgufInfo> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const r = new BoundedReader(fh, size, MAX_GGUF_HEADER);
    const magic = (await r.bytes(4)).toString('latin1');
    if (magic !== 'GGUF') throw new HeaderError(`${path}: not a GGUF file`);
    const version = await r.u32();
    if (version !== 2 && version !== 3) throw new HeaderError(`${path}: GGUF version ${version} is not supported`);
    const tensorCount = await r.u64();
    const kvCount = await r.u64();
    if (kvCount > MAX_KV || tensorCount > MAX_TENSORS) throw new HeaderError(`${path}: GGUF header counts too large`);
    const metadata: Record<string, string | number | boolean> = {};
    for (let i = 0; i < kvCount; i++) {
      const key = await readString(r);
      const value = await readValue(r, await r.u32());
      if (value !== undefined) metadata[key] = value;
    }
    let parameters = 0;
    for (let i = 0; i < tensorCount; i++) {
      await r.skip(await r.u64()); // name
      const nDims = await r.u32();
      if (nDims > MAX_DIMS) throw new HeaderError(`${path}: tensor with ${nDims} dimensions`);
      let n = 1;
      for (let d = 0; d < nDims; d++) n *= await r.u64();
      parameters += n;
      await r.skip(4 + 8); // type, offset
    }
    const arch = typeof metadata['general.architecture'] === 'string' ? metadata['general.architecture'] : undefined;
    const ft = metadata['general.file_type'];
    const ctx = arch ? metadata[`${arch}.context_length`] : undefined;
    return {
      version,
      tensorCount,
      architecture: arch,
      name: typeof metadata['general.name'] === 'string' ? metadata['general.name'] : undefined,
      quantization: typeof ft === 'number' ? (FILE_TYPES[ft] ?? `type-${ft}`) : undefined,
      contextLength: typeof ctx === 'number' ? ctx : undefined,
      parameters,
      metadata,
    };
  } finally {
    await fh.close();
  }
}
