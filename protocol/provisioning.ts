/**
 * Provisioning by claim: a new device boots with the claim credential of its batch, which may
 * only ask the provisioning service for a nonce and then claim. The device makes its own nkey
 * pair (the seed never leaves it), signs the nonce with it and claims with its serial number;
 * the cloud checks the serial against the batch's allowlist, the nonce (once, and fresh) and the
 * signature, and issues the device's own credentials once. Later the device renews them before
 * they expire, over its own subjects.
 *
 * Subjects: `vs.provision.<batchId>.nonce` and `vs.provision.<batchId>.claim` (request/reply,
 * the claim credential's only ones), `vs.<region>.dev.<deviceId>.creds.renew` (the device's).
 *
 * @example
 * ```ts
 * import { parseClaimRequest } from "./provisioning.ts";
 * parseClaimRequest(new TextEncoder().encode("{}")).ok; // false
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";

const serial = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9_-]{3,63}$/,
  "must be 4-64 of A-Z, a-z, 0-9, '_' and '-'",
);
const userKey = z.string().regex(/^U[A-Z2-7]{55}$/, "must be a NATS user public key (U...)");
const trustedKey = z.strictObject({
  keyId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});

/** A claim: the serial, the device's public key and its signature of the service's nonce. */
export const ClaimRequestSchema = z.strictObject({
  ...f.envelope,
  batchId: f.deviceId,
  serial,
  /** The device's own public nkey (it made the pair; the seed stays on the device). */
  publicKey: userKey,
  /** The nonce the service gave, as given. */
  nonce: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/, "must be a nonce from the service"),
  /** Ed25519 signature (nkey) of the nonce's UTF-8 bytes by `publicKey`, base64url. */
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/, "must be a base64url signature"),
});

/** A claim request. */
export type ClaimRequest = z.infer<typeof ClaimRequestSchema>;

/** The claim request family. */
export const claimRequest = defineFamily<ClaimRequest>("claim request", ClaimRequestSchema);

/** Parses a claim request; never throws. */
export const parseClaimRequest = claimRequest.parse;

/** What a provisioned device learns: who it is, its credentials and the keys it pins. */
export const DeviceIdentitySchema = z.strictObject({
  deviceId: f.deviceId,
  machineId: f.machineId,
  role: z.enum(["primary", "secondary"]),
  region: f.deviceId,
  /** The machine's primary (for a secondary). */
  primaryDeviceId: f.deviceId.optional(),
  /** The device's user JWT (no secret: it is useless without the device's seed). */
  jwt: z.string().min(20).max(16_384),
  /** When the JWT expires, Unix seconds. */
  expiresAt: z.int().min(0),
  /** The cloud's command keys the device must pin. */
  commandKeys: z.array(trustedKey).min(1).max(8),
});

/** A provisioned device's identity. */
export type DeviceIdentity = z.infer<typeof DeviceIdentitySchema>;

/** The service's answer to a nonce request, a claim or a renewal. */
export const ProvisioningReplySchema = z.discriminatedUnion("ok", [
  z.strictObject({
    ok: z.literal(true),
    nonce: z.string().optional(),
    identity: DeviceIdentitySchema.optional(),
  }),
  z.strictObject({ ok: z.literal(false), error: z.string().max(500) }),
]);

/** The service's answer. */
export type ProvisioningReply = z.infer<typeof ProvisioningReplySchema>;

/** One device a batch may provision: its serial and who it becomes. */
export const BatchDeviceSchema = z.strictObject({
  serial,
  deviceId: f.deviceId,
  machineId: f.machineId,
  role: z.enum(["primary", "secondary"]),
});

/** One device of a batch's allowlist. */
export type BatchDevice = z.infer<typeof BatchDeviceSchema>;

/** A batch of devices (made together, shipped with one claim credential) and its allowlist. */
export const BatchSchema = z.strictObject({
  batchId: f.deviceId,
  region: f.deviceId,
  devices: z.array(BatchDeviceSchema).min(1).max(10_000),
}).superRefine((b, ctx) => {
  const serials = new Set<string>();
  const ids = new Set<string>();
  b.devices.forEach((d, i) => {
    if (serials.has(d.serial)) {
      ctx.addIssue({ code: "custom", path: ["devices", i, "serial"], message: "repeated" });
    }
    if (ids.has(d.deviceId)) {
      ctx.addIssue({ code: "custom", path: ["devices", i, "deviceId"], message: "repeated" });
    }
    serials.add(d.serial);
    ids.add(d.deviceId);
  });
});

/** A batch and its allowlist. */
export type Batch = z.infer<typeof BatchSchema>;
