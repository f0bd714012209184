/**
 * Signed commands: the cloud signs the exact bytes of a command request with Ed25519
 * (WebCrypto) and the device checks the signature against the keys it pinned at provisioning,
 * before anything else. With its id (a replayed id never acts twice) and its expiry, this is
 * what stops a captured unlock from opening a cabinet again, and a device or a leaked NATS
 * credential from unlocking a cabinet at all: only the cloud's key signs.
 *
 * On the wire the request body is `{"command": "<request JSON>", "keyId", "signature"}`.
 *
 * @example
 * ```ts
 * import { generateSigningKey } from "./signed_manifest.ts";
 * import { signCommand, verifySignedCommand } from "./signed_command.ts";
 *
 * const key = await generateSigningKey();
 * const bytes = await signCommand({
 *   v: 1, id: "0193a1b2-c3d4-7e5f-8a9b-000000000001", ts: Date.now(), deviceId: "m001-a",
 *   issuer: "cloud", expiresAt: Date.now() + 30_000, command: "lock", args: {},
 * }, key);
 * const request = await verifySignedCommand(bytes, [key.trusted]);
 * ```
 *
 * @module
 */
import { z } from "zod";
import { type CommandRequest, commandRequest } from "./command.ts";
import { defineFamily } from "./message_family.ts";
import {
  checkSignature,
  SignatureError,
  type SigningKey,
  toBase64Url,
  type TrustedKey,
} from "./signed_manifest.ts";

/** Schema of a signed command: the request's JSON text, the key id and the signature. */
export const SignedCommandSchema = z.strictObject({
  /** The command request as signed (JSON text). */
  command: z.string().min(2).max(64 * 1024),
  keyId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "must be a key id"),
  /** Ed25519 signature of the UTF-8 bytes of `command`, base64url. */
  signature: z.string().length(86).regex(/^[A-Za-z0-9_-]+$/, "must be base64url"),
});

/** A signed command. */
export type SignedCommand = z.infer<typeof SignedCommandSchema>;

/** The signed command family. */
export const signedCommand = defineFamily<SignedCommand>("signed command", SignedCommandSchema);

/** Signs a command request (checked against its schema first); returns the message's bytes. */
export async function signCommand(
  request: CommandRequest,
  key: Pick<SigningKey, "keyId" | "privateKey">,
): Promise<Uint8Array> {
  const text = commandRequest.encode(request);
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, text as BufferSource);
  return signedCommand.encode({
    command: new TextDecoder().decode(text),
    keyId: key.keyId,
    signature: toBase64Url(new Uint8Array(sig)),
  });
}

/** The request inside a signed command, read without checking anything (to answer a refusal). */
export function unverifiedCommandId(input: Uint8Array): { id?: string; command?: string } {
  try {
    const outer = JSON.parse(new TextDecoder().decode(input));
    const inner = typeof outer?.command === "string" && outer.command.startsWith("{")
      ? JSON.parse(outer.command)
      : outer;
    return {
      ...(typeof inner?.id === "string" ? { id: inner.id } : {}),
      ...(typeof inner?.command === "string" ? { command: inner.command } : {}),
    };
  } catch {
    // Not JSON (or not a command's shape): there is no id to answer with; the refusal says so.
    return {};
  }
}

/**
 * Checks a signed command against the pinned keys and returns the bytes of the request it
 * carries (its content not yet validated: see `parseCommandRequest`). Throws {@link SignatureError} naming
 * why it is refused: unsigned, unknown key, or a signature that does not match.
 */
export async function verifySignedCommand(
  input: Uint8Array,
  trusted: readonly TrustedKey[],
): Promise<Uint8Array> {
  const signed = signedCommand.parse(input);
  if (!signed.ok) {
    throw new SignatureError(`Refused an unsigned or malformed command: ${signed.error.message}`, {
      cause: signed.error,
    });
  }
  const bytes = new TextEncoder().encode(signed.value.command);
  await checkSignature(bytes, signed.value, trusted, { what: "command" });
  return bytes;
}
