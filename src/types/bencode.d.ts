// bencode 4 ships no types. Decoded byte strings are Uint8Array (no encoding given).
declare module 'bencode' {
  type Value = number | Uint8Array | string | Value[] | { [key: string]: Value } | Map<Uint8Array | string, Value>;
  const bencode: {
    encode(data: unknown): Uint8Array;
    decode(data: Uint8Array, start?: number, end?: number, encoding?: string): any;
    byteLength(data: unknown): number;
    encodingLength(data: unknown): number;
  };
  export default bencode;
  export type { Value };
}
