// The automatic piece length: the smallest power of two from 16 KiB to 16 MiB that keeps a torrent at or
// under TARGET_PIECES pieces. Why ~1000-2000 pieces: a .torrent stays small (20 B of v1 hash + 32 B of v2 piece
// layer per piece: about 100 KiB at 2048 pieces), peers get enough pieces to trade from the start, and a
// damaged piece costs little to fetch again. 16 MiB is the cap because larger pieces make resuming and
// verification coarse and several clients refuse them; beyond 32 GiB the piece count simply grows.
//
//   total size of the files    piece length   pieces
//   up to 32 MiB               16 KiB         up to 2048
//   32 MiB - 64 MiB            32 KiB         1025 - 2048
//   64 MiB - 128 MiB           64 KiB         1025 - 2048
//   128 MiB - 256 MiB          128 KiB        1025 - 2048
//   256 MiB - 512 MiB          256 KiB        1025 - 2048
//   512 MiB - 1 GiB            512 KiB        1025 - 2048
//   1 GiB - 2 GiB              1 MiB          1025 - 2048   (e.g. a 1.5B model in fp16, 3 GiB -> 2 MiB)
//   2 GiB - 4 GiB              2 MiB          1025 - 2048
//   4 GiB - 8 GiB              4 MiB          1025 - 2048   (a 7B model in 4-bit GGUF)
//   8 GiB - 16 GiB             8 MiB          1025 - 2048   (a 7B model in fp16, ~14 GiB)
//   16 GiB - 32 GiB            16 MiB         1025 - 2048
//   over 32 GiB                16 MiB         over 2048     (a 70B model in fp16, ~130 GiB -> ~8300 pieces)
// "up to" bounds are inclusive: exactly 2 GiB gets 1 MiB pieces (2048 of them).

export const MIN_PIECE_LENGTH = 16 * 1024;
export const MAX_PIECE_LENGTH = 16 * 1024 * 1024;
export const TARGET_PIECES = 2048;

/** The automatic piece length for `totalBytes` of file data (see the table above). */
export function choosePieceLength(totalBytes: number): number {
  let pieceLength = MIN_PIECE_LENGTH;
  while (pieceLength < MAX_PIECE_LENGTH && totalBytes > pieceLength * TARGET_PIECES) pieceLength *= 2;
  return pieceLength;
}

/** The piece lengths `create` accepts: a power of two (BEP 52) from 16 KiB to 16 MiB. */
export function isValidPieceLength(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PIECE_LENGTH && n <= MAX_PIECE_LENGTH && (n & (n - 1)) === 0;
}
