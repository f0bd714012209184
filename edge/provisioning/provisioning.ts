/**
 * A device's identity: provisioning by claim on first boot, and renewal of its credentials
 * before they expire. The device makes its own nkey pair and keeps the seed in
 * `<dir>/device.nk` (mode 0600); the seed is never sent anywhere: the provisioning service only
 * sees the public key and the device's signature of its nonce. The credentials file
 * (`<dir>/device.creds`, 0600) and the identity (`<dir>/identity.json`) are written atomically.
 *
 * @example
 * ```ts
 * import { provisionDevice } from "./provisioning.ts";
 * const identity = await provisionDevice({
 *   servers: ["nats://127.0.0.1:4222"],
 *   claimCredentialsFile: "/etc/vendstream/claim.creds",
 *   batchId: "batch-2026-11",
 *   serial: "SN0001",
 *   dir: "/var/lib/vendstream",
 * });
 * console.log(identity.deviceId);
 * ```
 *
 * @module
 */
import { createUser, decode, fmtCreds, fromSeed, type KeyPair } from "@nats-io/jwt";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  claimInboxPrefix,
  type DeviceIdentity,
  DeviceIdentitySchema,
  newEnvelope,
  ProvisioningReplySchema,
  subjects,
  toBase64Url,
} from "../../protocol/mod.ts";
import { abortable, writePrivateFile } from "../../runtime/mod.ts";

/** Provisioning failed (the message says why; nothing half-written is left). */
export class ClaimError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClaimError";
  }
}

/** Options of {@link provisionDevice}. */
export interface ProvisionOptions {
  /** NATS servers. */
  readonly servers: readonly string[];
  /** The CA of the servers' certificates (TLS). */
  readonly caFile?: string;
  /** The batch's claim credential (shipped with the device). */
  readonly claimCredentialsFile: string;
  /** The device's batch. */
  readonly batchId: string;
  /** The device's serial number. */
  readonly serial: string;
  /** Where the device keeps its seed, credentials and identity. */
  readonly dir: string;
  /** Gives up after this many ms. Default 15,000. */
  readonly timeoutMs?: number;
  /** Stops provisioning (it rejects with the signal's reason; nothing is stored). */
  readonly signal?: AbortSignal;
}

/** The paths of a device's identity files in `dir`. */
export function identityFiles(dir: string): { seed: string; creds: string; identity: string } {
  return {
    seed: `${dir}/device.nk`,
    creds: `${dir}/device.creds`,
    identity: `${dir}/identity.json`,
  };
}

/** The device's identity from `dir`, or undefined before it was provisioned. */
export async function readIdentity(dir: string): Promise<DeviceIdentity | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(identityFiles(dir).identity);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const parsed = DeviceIdentitySchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new ClaimError(
      `Identity file "${identityFiles(dir).identity}" is invalid: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}

/** The device's key pair: made on first use (mode 0600), never sent anywhere. */
async function deviceKey(dir: string): Promise<KeyPair> {
  const path = identityFiles(dir).seed;
  try {
    return fromSeed(new TextEncoder().encode((await Deno.readTextFile(path)).trim()));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const kp = createUser();
  await writePrivateFile(path, new TextDecoder().decode(kp.getSeed()) + "\n");
  return kp;
}

/** Writes the credentials and the identity (credentials first: the identity marks completion). */
async function store(dir: string, kp: KeyPair, identity: DeviceIdentity): Promise<void> {
  const claims = decode<unknown>(identity.jwt);
  if (claims.sub !== kp.getPublicKey()) {
    throw new ClaimError(
      `The service issued credentials for ${claims.sub}, not this device's key ${kp.getPublicKey()}`,
    );
  }
  const files = identityFiles(dir);
  await writePrivateFile(files.creds, fmtCreds(identity.jwt, kp));
  await writePrivateFile(files.identity, JSON.stringify(identity, null, 2));
}

async function ask(nc: NatsConnection, subject: string, body: string, timeoutMs: number) {
  const msg = await nc.request(subject, body, { timeout: timeoutMs });
  const reply = ProvisioningReplySchema.safeParse(msg.json());
  if (!reply.success) throw new ClaimError(`Unreadable answer on ${subject}`);
  if (!reply.data.ok) throw new ClaimError(`Provisioning refused: ${reply.data.error}`);
  return reply.data;
}

/**
 * Provisions the device once: returns the stored identity when there is one, else claims it with
 * the batch's claim credential and stores the device's own credentials.
 */
export async function provisionDevice(options: ProvisionOptions): Promise<DeviceIdentity> {
  const existing = await readIdentity(options.dir);
  if (existing) return existing;
  await Deno.mkdir(options.dir, { recursive: true, mode: 0o700 });
  const kp = await deviceKey(options.dir);
  const timeoutMs = options.timeoutMs ?? 15_000;
  let claimCreds: Uint8Array;
  try {
    claimCreds = await Deno.readFile(options.claimCredentialsFile);
  } catch (cause) {
    throw new ClaimError(
      `Cannot read the claim credential "${options.claimCredentialsFile}": ${
        (cause as Error).message
      }`,
      { cause },
    );
  }
  const signal = options.signal;
  signal?.throwIfAborted();
  const nc = await abortable(
    connect({
      servers: [...options.servers],
      name: `claim-${options.serial}`,
      inboxPrefix: claimInboxPrefix(options.batchId),
      authenticator: credsAuthenticator(claimCreds),
      ...(options.caFile ? { tls: { caFile: options.caFile } } : {}),
      timeout: timeoutMs,
    }).catch((cause) => {
      throw new ClaimError(`Cannot connect to claim: ${(cause as Error).message}`, { cause });
    }),
    { ...(signal ? { signal } : {}), onLate: (late) => late.close() },
  );
  // A stop closes the connection: a request in flight rejects at once. What is reported is the
  // stop's reason (below); the `finally` closes the connection again (a no-op once closed).
  const onAbort = () => {
    nc.close().catch(() => {/* the stop's reason is what is reported */});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const { nonce } = await ask(nc, subjects.provisionNonce(options.batchId), "{}", timeoutMs);
    if (!nonce) throw new ClaimError("The provisioning service gave no nonce");
    const claim = {
      ...newEnvelope(),
      batchId: options.batchId,
      serial: options.serial,
      publicKey: kp.getPublicKey(),
      nonce,
      signature: toBase64Url(kp.sign(new TextEncoder().encode(nonce))),
    };
    const { identity } = await ask(
      nc,
      subjects.provisionClaim(options.batchId),
      JSON.stringify(claim),
      timeoutMs,
    );
    if (!identity) throw new ClaimError("The provisioning service gave no identity");
    signal?.throwIfAborted();
    await store(options.dir, kp, identity);
    return identity;
  } catch (e) {
    // Stopped: say so, not the closed connection's error.
    signal?.throwIfAborted();
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // Closing the claim connection is cleanup: the outcome is the identity stored or the error
    // above, which a socket that fails to close changes nothing about (close() of a closed
    // connection resolves).
    await nc.close().catch(() => {/* the outcome above is what is reported */});
  }
}

/**
 * Asks for fresh credentials over the device's own connection and stores them; the next
 * (re)connection uses them. The seed stays the same.
 */
export async function renewCredentials(
  nc: NatsConnection,
  dir: string,
  options: { timeoutMs?: number } = {},
): Promise<DeviceIdentity> {
  const current = await readIdentity(dir);
  if (!current) throw new ClaimError(`No identity in "${dir}" to renew`);
  const kp = await deviceKey(dir);
  const { identity } = await ask(
    nc,
    subjects.credentialsRenew({ region: current.region, deviceId: current.deviceId }),
    "{}",
    options.timeoutMs ?? 15_000,
  );
  if (!identity || identity.deviceId !== current.deviceId) {
    throw new ClaimError("The provisioning service renewed another identity");
  }
  await store(dir, kp, identity);
  return identity;
}

/** The agent configuration fields an identity sets. */
export function identityConfig(identity: DeviceIdentity, dir: string): Record<string, unknown> {
  return {
    deviceId: identity.deviceId,
    machineId: identity.machineId,
    role: identity.role,
    region: identity.region,
    ...(identity.primaryDeviceId ? { primaryDeviceId: identity.primaryDeviceId } : {}),
    commands: { trustedKeys: identity.commandKeys },
    credentialsFile: identityFiles(dir).creds,
  };
}
