/**
 * Bytes as lowercase hex, the way digests and ids are spelled on the wire (a chunk's `sha256`,
 * a clip's digest, a message id).
 *
 * @example
 * ```ts
 * import { sha256Hex, toHex } from "./hex.ts";
 * toHex(new Uint8Array([0, 15, 255])); // "000fff"
 * await sha256Hex("abc"); // "ba7816bf..."
 * ```
 *
 * @module
 */

const DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** `bytes` as lowercase hex, two digits a byte. */
export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += DIGITS[b];
  return out;
}

/** The SHA-256 digest of `data` (text as UTF-8) as lowercase hex. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  // WebCrypto wants a buffer of its own: a view into a larger (or shared) one is copied.
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}
