/**
 * Cuts a fragmented MP4 byte stream into the segments a live viewer (Media Source Extensions,
 * HLS fMP4) consumes: one init segment (`ftyp`+`moov`), then one media segment per fragment
 * (`moof`+`mdat`, plus any `styp`/`sidx` before them).
 *
 * @example
 * ```ts
 * import { fmp4Segments } from "./fmp4_segments.ts";
 *
 * const bytes = new Blob([]).stream(); // an encoder's output
 * for await (const segment of bytes.pipeThrough(fmp4Segments())) {
 *   console.log(segment.kind, segment.bytes.length);
 * }
 * ```
 *
 * @module
 */

/** A segment of fragmented MP4. */
export interface Fmp4Segment {
  /** `"init"` (ftyp+moov) or `"media"` (one fragment). */
  readonly kind: "init" | "media";
  /** Its bytes: whole boxes. */
  readonly bytes: Uint8Array;
}

/** The MP4 is not well formed. */
export class Fmp4Error extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "Fmp4Error";
  }
}

/** Splits fragmented MP4 bytes into init and media segments. */
export function fmp4Segments(): TransformStream<Uint8Array, Fmp4Segment> {
  let buf = new Uint8Array(0);
  let pending: Uint8Array[] = [];
  let sawInit = false;
  let offset = 0;
  const emit = (kind: Fmp4Segment["kind"], c: TransformStreamDefaultController<Fmp4Segment>) => {
    const bytes = new Uint8Array(pending.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of pending) {
      bytes.set(b, at);
      at += b.length;
    }
    pending = [];
    c.enqueue({ kind, bytes });
  };
  return new TransformStream({
    transform(chunk, c) {
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      buf = joined;
      for (;;) {
        if (buf.length < 8) return;
        const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        let size = view.getUint32(0);
        const type = String.fromCharCode(buf[4]!, buf[5]!, buf[6]!, buf[7]!);
        let header = 8;
        if (size === 1) {
          if (buf.length < 16) return;
          size = Number(view.getBigUint64(8));
          header = 16;
        }
        if (size < header || !/^[\x20-\x7e]{4}$/.test(type)) {
          throw new Fmp4Error(`Malformed MP4 box "${type}" of ${size} bytes at byte ${offset}`);
        }
        if (buf.length < size) return;
        pending.push(buf.slice(0, size));
        buf = buf.subarray(size);
        offset += size;
        if (type === "moov") {
          emit("init", c);
          sawInit = true;
        } else if (type === "mdat") {
          if (!sawInit) throw new Fmp4Error(`MP4 fragment at byte ${offset} before any moov`);
          emit("media", c);
        }
      }
    },
    flush() {
      if (buf.length > 0) throw new Fmp4Error(`MP4 ends inside a box (${buf.length} bytes left)`);
    },
  });
}

/** Frames (samples) in fragmented MP4 bytes: the sum of the sample counts of every `trun`. */
export function fmp4SampleCount(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const walk = (from: number, to: number): number => {
    let n = 0;
    for (let at = from; at + 8 <= to;) {
      const size = view.getUint32(at);
      const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
      if (size < 8 || at + size > to) break;
      if (type === "moof" || type === "traf") n += walk(at + 8, at + size);
      else if (type === "trun" && size >= 16) n += view.getUint32(at + 12);
      at += size;
    }
    return n;
  };
  return walk(0, bytes.length);
}
