/**
 * Content-defined chunking (FastCDC with a gear hash): cuts bytes where their content says,
 * not at fixed offsets, so a change in one place of an artifact changes only the chunks around
 * it and a device that holds the previous version downloads just those.
 *
 * @example
 * ```ts
 * import { contentChunks } from "./content_chunker.ts";
 *
 * const data = new Uint8Array(1 << 20);
 * for (const c of contentChunks(data)) console.log(c.offset, c.bytes);
 * ```
 *
 * @module
 */

/** Chunk size bounds, bytes. */
export interface ChunkSizes {
  /** Smallest chunk (but the last). Default 16 KiB. */
  readonly min?: number;
  /** Typical chunk. Default 64 KiB (a power of two). */
  readonly avg?: number;
  /** Largest chunk. Default 256 KiB. */
  readonly max?: number;
}

/** One chunk: where it starts and how long it is. */
export interface ChunkSpan {
  readonly offset: number;
  readonly bytes: number;
}

/** The gear table: 256 fixed pseudo-random 32-bit values (xorshift32 from a fixed seed). */
const GEAR = (() => {
  const t = new Uint32Array(256);
  let x = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    t[i] = x;
  }
  return t;
})();

function mask(bits: number): number {
  // Spread the mask's bits over the high half, as FastCDC does, so they see many input bytes.
  let m = 0;
  for (let i = 0, b = 31; i < bits; i++, b -= 2) m |= 1 << (b < 0 ? b + 32 : b);
  return m >>> 0;
}

/** Splits `data` into content-defined chunks (normalised FastCDC). */
export function contentChunks(data: Uint8Array, sizes: ChunkSizes = {}): ChunkSpan[] {
  const min = sizes.min ?? 16 * 1024;
  const avg = sizes.avg ?? 64 * 1024;
  const max = sizes.max ?? 256 * 1024;
  if (!(Number.isInteger(min) && min >= 64 && min < avg && avg < max && max <= 4 << 20)) {
    throw new RangeError(
      `Cannot chunk with sizes ${min}/${avg}/${max}: need 64 <= min < avg < max <= 4 MiB`,
    );
  }
  const bits = Math.round(Math.log2(avg));
  if (2 ** bits !== avg) {
    throw new RangeError(`Cannot chunk with an average of ${avg}: a power of two`);
  }
  const hard = mask(bits + 1);
  const easy = mask(bits - 1);
  const out: ChunkSpan[] = [];
  let start = 0;
  while (start < data.length) {
    const left = data.length - start;
    if (left <= min) {
      out.push({ offset: start, bytes: left });
      break;
    }
    const end = start + Math.min(left, max);
    const normal = start + Math.min(left, avg);
    let h = 0;
    let cut = end;
    let i = start + min;
    for (; i < normal; i++) {
      h = ((h << 1) + GEAR[data[i]!]!) >>> 0;
      if ((h & hard) === 0) {
        cut = i + 1;
        break;
      }
    }
    if (cut === end) {
      for (; i < end; i++) {
        h = ((h << 1) + GEAR[data[i]!]!) >>> 0;
        if ((h & easy) === 0) {
          cut = i + 1;
          break;
        }
      }
    }
    out.push({ offset: start, bytes: cut - start });
    start = cut;
  }
  return out;
}
