/**
 * Image shapes the pixel kernels read and write, and their checks.
 *
 * @module
 */

/** An RGBA image: 4 bytes per pixel, rows top to bottom, no padding. */
export interface RgbaImage {
  /** Pixel bytes, `width * height * 4` of them. */
  readonly data: Uint8Array;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** An I420 (YUV 4:2:0 planar) image: Y plane, then U and V planes of ceil(w/2) x ceil(h/2). */
export interface I420Image {
  /** Plane bytes, {@link i420Size} of them. */
  readonly data: Uint8Array;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** A width and a height. */
export interface Size {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** Bytes of an I420 image of `width` x `height`. */
export function i420Size(width: number, height: number): number {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  return width * height + 2 * cw * ch;
}

/** Throws RangeError unless `size` is a positive integer size up to 16384 x 16384. */
export function checkSize(size: Size, what: string): void {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 16384;
  if (!ok(size.width) || !ok(size.height)) {
    throw new RangeError(
      `Invalid ${what} size ${size.width}x${size.height}: expected 1-16384 x 1-16384`,
    );
  }
}

function checkData(data: unknown, what: string, expected: number, size: Size): void {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`Invalid ${what}: data must be a Uint8Array`);
  }
  if (data.length !== expected) {
    throw new RangeError(
      `Invalid ${what}: ${size.width}x${size.height} needs ${expected} bytes, got ${data.length}`,
    );
  }
}

/** Checks an RGBA image's size and byte count. */
export function checkRgba(image: RgbaImage, what = "RGBA image"): void {
  checkSize(image, what);
  checkData(image.data, what, image.width * image.height * 4, image);
}

/** Checks an I420 image's size and byte count. */
export function checkI420(image: I420Image, what = "I420 image"): void {
  checkSize(image, what);
  checkData(image.data, what, i420Size(image.width, image.height), image);
}
