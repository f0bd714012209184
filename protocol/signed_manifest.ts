/**
 * Signed version manifests: the cloud signs the exact bytes of a version manifest with Ed25519
 * (WebCrypto); devices pin the cloud's public keys and refuse a manifest that is unsigned,
 * signed by a key they do not know, or whose signature does not match. Several keys can be
 * trusted at once, which is how keys rotate: devices learn the new key before it signs.
 *
 * @example
 * ```ts
 * import { generateSigningKey, signManifest, verifySignedManifest } from "./signed_manifest.ts";
 *
 * const key = await generateSigningKey();
 * const signed = await signManifest({ v: 1, recipe: {} as never, artifacts: [], createdAt: 0 }, key);
 * await verifySignedManifest(JSON.stringify(signed), [key.trusted]).catch((e) => console.log(e.message));
 * ```
 *
 * @module
 */
import { z } from "zod";
import { type VersionManifest, versionManifest } from "./component.ts";
import { defineFamily } from "./message_family.ts";

const b64url = /^[A-Za-z0-9_-]+$/;

/** Schema of a signed manifest: the manifest's JSON text, the key id and the signature. */
export const SignedManifestSchema = z.strictObject({
  /** The version manifest as signed (JSON text). */
  manifest: z.string().min(2).max(16 << 20),
  keyId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "must be a key id"),
  /** Ed25519 signature of the UTF-8 bytes of `manifest`, base64url. */
  signature: z.string().length(86).regex(b64url, "must be base64url"),
});

/** A signed manifest. */
export type SignedManifest = z.infer<typeof SignedManifestSchema>;

/** The signed manifest family. */
export const signedManifest = defineFamily<SignedManifest>(
  "signed manifest",
  SignedManifestSchema,
);

/** A public key a device trusts. */
export interface TrustedKey {
  /** Key id (derived from the key). */
  readonly keyId: string;
  /** Raw Ed25519 public key, base64url. */
  readonly publicKey: string;
}

/** A key that signs (kept by the cloud). */
export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: CryptoKey;
  /** What devices pin. */
  readonly trusted: TrustedKey;
}

/** A manifest was refused: unsigned, unknown key, bad signature or invalid content. */
export class SignatureError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SignatureError";
  }
}

/** base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes base64url (with or without padding). */
export function fromBase64Url(text: string): Uint8Array {
  const s = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

async function keyIdOf(raw: Uint8Array): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", raw as BufferSource));
  return toBase64Url(h.subarray(0, 12));
}

/** Makes a new Ed25519 signing key. */
export async function generateSigningKey(): Promise<SigningKey & { privateJwk: JsonWebKey }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const keyId = await keyIdOf(raw);
  return {
    keyId,
    privateKey: pair.privateKey,
    privateJwk: await crypto.subtle.exportKey("jwk", pair.privateKey),
    trusted: { keyId, publicKey: toBase64Url(raw) },
  };
}

/** Loads a signing key from its private JWK. */
export async function importSigningKey(jwk: JsonWebKey): Promise<SigningKey> {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.d || !jwk.x) {
    throw new TypeError("Cannot import a signing key: not an Ed25519 private JWK");
  }
  const privateKey = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, [
    "sign",
  ]);
  const raw = fromBase64Url(jwk.x);
  const keyId = await keyIdOf(raw);
  return { keyId, privateKey, trusted: { keyId, publicKey: toBase64Url(raw) } };
}

/**
 * Checks an Ed25519 `signature` (base64url) of `bytes` by the pinned key `keyId`; throws
 * {@link SignatureError} naming the `what` refused: an unknown key or a signature that does not
 * match. Shared by the signed families (manifests, commands).
 */
export async function checkSignature(
  bytes: Uint8Array,
  signed: { keyId: string; signature: string },
  trusted: readonly TrustedKey[],
  options: { what: string },
): Promise<void> {
  const key = trusted.find((k) => k.keyId === signed.keyId);
  if (!key) {
    throw new SignatureError(`Refused a ${options.what} signed by unknown key "${signed.keyId}"`);
  }
  const publicKey = await crypto.subtle.importKey(
    "raw",
    fromBase64Url(key.publicKey) as BufferSource,
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  const ok = await crypto.subtle.verify(
    { name: "Ed25519" },
    publicKey,
    fromBase64Url(signed.signature) as BufferSource,
    bytes as BufferSource,
  );
  if (!ok) {
    throw new SignatureError(
      `Refused a ${options.what} whose signature by "${signed.keyId}" does not match`,
    );
  }
}

/** Signs a version manifest (checked against its schema first). */
export async function signManifest(
  manifest: VersionManifest,
  key: Pick<SigningKey, "keyId" | "privateKey">,
): Promise<SignedManifest> {
  const text = versionManifest.encode(manifest);
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, text as BufferSource);
  return {
    manifest: new TextDecoder().decode(text),
    keyId: key.keyId,
    signature: toBase64Url(new Uint8Array(sig)),
  };
}

/**
 * Checks a signed manifest against the pinned keys and returns the manifest it carries.
 * Throws {@link SignatureError} saying why it is refused.
 */
export async function verifySignedManifest(
  input: Uint8Array | string,
  trusted: readonly TrustedKey[],
): Promise<VersionManifest> {
  const signed = signedManifest.parse(input);
  if (!signed.ok) {
    throw new SignatureError(`Refused an unsigned or malformed manifest: ${signed.error.message}`, {
      cause: signed.error,
    });
  }
  const { manifest, keyId, signature } = signed.value;
  await checkSignature(new TextEncoder().encode(manifest), { keyId, signature }, trusted, {
    what: "manifest",
  });
  const parsed = versionManifest.parse(manifest);
  if (!parsed.ok) {
    throw new SignatureError(
      `Refused a signed manifest that is not valid: ${parsed.error.message}`,
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.value;
}
