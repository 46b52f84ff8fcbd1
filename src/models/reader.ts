// Bounded sequential reads from the start of a file: model headers are parsed without reading the weights.
import type { FileHandle } from 'node:fs/promises';

export class HeaderError extends Error {
  override name = 'HeaderError';
}

/** Reads forward through a file in chunks, refusing to go past `limit` bytes. */
export class BoundedReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly fileSize: number,
    private readonly limit: number,
  ) {}

  private async ensure(n: number): Promise<void> {
    const end = this.pos + n;
    if (end > this.limit) throw new HeaderError(`header is larger than ${this.limit} bytes`);
    if (end > this.fileSize) throw new HeaderError('file ends inside its header');
    if (end <= this.bufStart + this.buf.length) return;
    const want = Math.max(end - this.pos, 1 << 20);
    const len = Math.min(want, this.fileSize - this.pos);
    const chunk = Buffer.alloc(len);
    const { bytesRead } = await this.fh.read(chunk, 0, len, this.pos);
    if (bytesRead < end - this.pos) throw new HeaderError('short read');
    this.buf = chunk.subarray(0, bytesRead);
    this.bufStart = this.pos;
  }

  async bytes(n: number): Promise<Buffer> {
    await this.ensure(n);
    const off = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }

  async skip(n: number): Promise<void> {
    const end = this.pos + n;
    if (end > this.limit) throw new HeaderError(`header is larger than ${this.limit} bytes`);
    if (end > this.fileSize) throw new HeaderError('file ends inside its header');
    this.pos = end;
  }

  async u8() {
    return (await this.bytes(1)).readUInt8(0);
  }
  async u32() {
    return (await this.bytes(4)).readUInt32LE(0);
  }
  async u64(): Promise<number> {
    const v = (await this.bytes(8)).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new HeaderError('64-bit value out of range');
    return Number(v);
  }
}
