/**
 * A single-producer single-consumer byte ring in a SharedArrayBuffer: the main thread writes
 * raw frames without blocking its event loop (`Atomics.waitAsync` while the ring is full), and
 * ffmpeg.wasm's input device in a worker reads them synchronously (`Atomics.wait` while empty).
 * Positions are wrapping 32-bit counters, so a ring never needs resetting mid-stream.
 *
 * @module
 */

const WRITE = 0;
const READ = 1;
const STATE = 2;

/** Ring states. */
export const RING_OPEN = 0;
/** The writer has no more bytes: the reader gets end-of-file once the ring is empty. */
export const RING_EOF = 1;
/** The writer gave up: the reader fails at once. */
export const RING_ABORTED = 2;

const HEADER_BYTES = 16;

/** The shared memory of a ring: a header of counters, then the data. */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < 4096 || capacity > 1 << 30) {
    throw new RangeError(`Cannot create a byte ring of ${capacity} bytes: 4096 B-1 GiB`);
  }
  return new SharedArrayBuffer(HEADER_BYTES + capacity);
}

function views(sab: SharedArrayBuffer): { ctl: Int32Array; data: Uint8Array } {
  return {
    ctl: new Int32Array(sab, 0, HEADER_BYTES / 4),
    data: new Uint8Array(sab, HEADER_BYTES),
  };
}

/** The writing end, on the main thread. */
export class RingWriter {
  readonly #ctl: Int32Array;
  readonly #data: Uint8Array;

  /** Wraps the shared memory of a ring. */
  constructor(sab: SharedArrayBuffer) {
    const { ctl, data } = views(sab);
    this.#ctl = ctl;
    this.#data = data;
  }

  /** Empties the ring and opens it for a new stream; only while no reader is reading. */
  reset(): void {
    Atomics.store(this.#ctl, WRITE, 0);
    Atomics.store(this.#ctl, READ, 0);
    Atomics.store(this.#ctl, STATE, RING_OPEN);
  }

  /** Bytes written and not yet read. */
  get buffered(): number {
    return (Atomics.load(this.#ctl, WRITE) - Atomics.load(this.#ctl, READ)) | 0;
  }

  /**
   * Writes all of `bytes`, waiting (without blocking the event loop) while the ring is full.
   * Rejects when `signal` aborts or `alive()` turns false (the reader died).
   */
  async write(
    bytes: Uint8Array,
    options: { signal?: AbortSignal; alive?: () => boolean } = {},
  ): Promise<void> {
    const cap = this.#data.length;
    let off = 0;
    while (off < bytes.length) {
      if (Atomics.load(this.#ctl, STATE) !== RING_OPEN) {
        throw new Error("Cannot write to a byte ring that is closed");
      }
      const read = Atomics.load(this.#ctl, READ);
      const write = Atomics.load(this.#ctl, WRITE);
      const free = cap - ((write - read) | 0);
      if (free === 0) {
        options.signal?.throwIfAborted();
        if (options.alive && !options.alive()) throw new Error("the ring's reader is gone");
        const w = Atomics.waitAsync(this.#ctl, READ, read, 50);
        if (w.async) await w.value;
        continue;
      }
      const n = Math.min(free, bytes.length - off);
      const at = (write >>> 0) % cap;
      const first = Math.min(n, cap - at);
      this.#data.set(bytes.subarray(off, off + first), at);
      if (n > first) this.#data.set(bytes.subarray(off + first, off + n), 0);
      off += n;
      Atomics.store(this.#ctl, WRITE, (write + n) | 0);
      Atomics.notify(this.#ctl, WRITE);
    }
  }

  /** No more bytes: the reader sees end-of-file after the last one. */
  close(): void {
    Atomics.compareExchange(this.#ctl, STATE, RING_OPEN, RING_EOF);
    Atomics.notify(this.#ctl, WRITE);
  }

  /** Gives up: the reader fails at its next read. */
  abort(): void {
    Atomics.store(this.#ctl, STATE, RING_ABORTED);
    Atomics.notify(this.#ctl, WRITE);
  }
}

/** The reading end, in the worker; reads block. */
export class RingReader {
  readonly #ctl: Int32Array;
  readonly #data: Uint8Array;

  /** Wraps the shared memory of a ring. */
  constructor(sab: SharedArrayBuffer) {
    const { ctl, data } = views(sab);
    this.#ctl = ctl;
    this.#data = data;
  }

  /**
   * Reads up to `into.length` bytes, blocking until at least one is there; returns 0 at
   * end-of-file and -1 when the writer aborted.
   */
  read(into: Uint8Array): number {
    const cap = this.#data.length;
    for (;;) {
      const state = Atomics.load(this.#ctl, STATE);
      if (state === RING_ABORTED) return -1;
      const write = Atomics.load(this.#ctl, WRITE);
      const read = Atomics.load(this.#ctl, READ);
      const avail = (write - read) | 0;
      if (avail > 0) {
        const n = Math.min(avail, into.length);
        const at = (read >>> 0) % cap;
        const first = Math.min(n, cap - at);
        into.set(this.#data.subarray(at, at + first), 0);
        if (n > first) into.set(this.#data.subarray(0, n - first), first);
        Atomics.store(this.#ctl, READ, (read + n) | 0);
        Atomics.notify(this.#ctl, READ);
        return n;
      }
      if (state === RING_EOF) return 0;
      Atomics.wait(this.#ctl, WRITE, write, 200);
    }
  }
}
