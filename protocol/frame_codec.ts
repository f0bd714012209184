/**
 * The binary format of a video frame sent between the devices of a machine (the secondary's
 * camera to the primary), on `vs.<r>.dev.<d>.frames.<cameraId>` (core NATS):
 *
 * ```
 * bytes 0-3   "VSF1"
 * bytes 4-7   header length H, unsigned 32-bit little-endian
 * bytes 8..   H bytes of UTF-8 JSON header (see FrameHeaderSchema)
 * then        the pixels: width*height*4 bytes (rgba) or I420 planes (i420)
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";
import { type ParseResult, ProtocolError } from "./protocol_error.ts";

/** Schema of a frame header. */
export const FrameHeaderSchema = z.strictObject({
  v: f.envelope.v,
  deviceId: f.deviceId,
  cameraId: f.cameraId,
  seq: f.count,
  ts: z.number().min(0).max(8.64e15).describe("Capture time on the primary's clock, Unix ms"),
  width: z.int().min(1).max(7680),
  height: z.int().min(1).max(4320),
  format: z.enum(["rgba", "i420"]),
});

/** A frame header. */
export type FrameHeader = z.infer<typeof FrameHeaderSchema>;

/** The frame header family (the JSON part of an encoded frame). */
export const frameHeader = defineFamily<FrameHeader>("frame header", FrameHeaderSchema);

const MAGIC = [0x56, 0x53, 0x46, 0x31]; // "VSF1"

/** Pixel bytes a frame of this header carries. */
export function framePixelBytes(h: Pick<FrameHeader, "width" | "height" | "format">): number {
  if (h.format === "rgba") return h.width * h.height * 4;
  return h.width * h.height + 2 * ((h.width + 1) >> 1) * ((h.height + 1) >> 1);
}

/** Encodes a frame; throws TypeError when the header is invalid or the pixels do not fit it. */
export function encodeFrame(header: FrameHeader, pixels: Uint8Array): Uint8Array {
  const head = frameHeader.encode(header);
  const expected = framePixelBytes(header);
  if (pixels.length !== expected) {
    throw new TypeError(
      `Cannot encode frame of camera "${header.cameraId}": ${pixels.length} pixel bytes, expected ${expected}`,
    );
  }
  const out = new Uint8Array(8 + head.length + pixels.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, head.length, true);
  out.set(head, 8);
  out.set(pixels, 8 + head.length);
  return out;
}

/** Decodes a frame: the header and a view of the pixels. Never throws. */
export function decodeFrame(
  bytes: Uint8Array,
): ParseResult<{ header: FrameHeader; pixels: Uint8Array }> {
  const fail = (field: string, reason: string) => ({
    ok: false as const,
    error: new ProtocolError("frame", field, reason),
  });
  if (!(bytes instanceof Uint8Array) || bytes.length < 8) {
    return fail("", "shorter than the 8-byte preamble");
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) return fail("", 'does not start with "VSF1"');
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(
    4,
    true,
  );
  if (8 + headLength > bytes.length) {
    return fail("", `header length ${headLength} runs past the end (${bytes.length} bytes)`);
  }
  const parsed = frameHeader.parse(bytes.subarray(8, 8 + headLength));
  if (!parsed.ok) return parsed;
  const pixels = bytes.subarray(8 + headLength);
  const expected = framePixelBytes(parsed.value);
  if (pixels.length !== expected) {
    return fail(
      "",
      `${pixels.length} pixel bytes for ${parsed.value.width}x${parsed.value.height} ${parsed.value.format}, expected ${expected}`,
    );
  }
  return { ok: true, value: { header: parsed.value, pixels } };
}
