/**
 * Message ids: UUID version 7, so ids sort by creation time and double as JetStream
 * de-duplication ids (`Nats-Msg-Id`).
 *
 * @module
 */
import { toHex } from "./hex.ts";

/** Returns a new UUIDv7 message id, e.g. `"019a6c1e-7f3a-7b21-9c4d-2e5f60718293"`. */
export function newMessageId(now: number = Date.now()): string {
  if (!Number.isSafeInteger(now) || now < 0 || now >= 2 ** 48) {
    throw new RangeError(`Cannot make a message id for time ${now}: expected Unix milliseconds`);
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  let t = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = toHex(b);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** The envelope fields of a new message: schema version, a fresh id and the current time. */
export function newEnvelope(now: number = Date.now()): { v: 1; id: string; ts: number } {
  return { v: 1, id: newMessageId(now), ts: now };
}
