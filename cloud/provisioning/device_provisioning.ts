/**
 * The provisioning service: batches of devices with their allowlists of serial numbers, the
 * claim by which a new device gets its own credentials once, their renewal before they expire,
 * and revocation. It holds the devices account's key (through {@link NatsAccounts}); its state
 * (batches, issued credentials, claimed serials, nonces) is in NATS KV.
 *
 * A claim: the device asks for a nonce (`vs.provision.<batch>.nonce`), signs it with the nkey
 * pair it made, and claims with its serial (`vs.provision.<batch>.claim`). The service checks
 * the serial is in the batch's allowlist and not claimed yet, that the nonce is one it gave
 * (at most 5 minutes ago, used once) and the signature, then issues the device's user JWT for
 * the device's own public key. Every refusal is audited.
 *
 * @example
 * ```ts
 * import { DeviceProvisioning } from "./device_provisioning.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * declare const accounts: import("./nats_accounts.ts").NatsAccounts;
 * const provisioning = await DeviceProvisioning.open(nc, accounts, { region: "local" });
 * const stop = new AbortController();
 * await provisioning.serve({ signal: stop.signal });
 * ```
 *
 * @module
 */
import { isRevisionConflict, openKv } from "../nats/mod.ts";
import { jetstream } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { fromPublic } from "@nats-io/jwt";
import {
  type AuditEntry,
  auditEntry,
  type Batch,
  BatchSchema,
  buckets,
  type DeviceIdentity,
  deviceSubjectParts,
  filters,
  fromBase64Url,
  newEnvelope,
  parseClaimRequest,
  type ProvisioningReply,
  provisionSubjectParts,
  subjects,
  type TrustedKey,
} from "../../protocol/mod.ts";
import { loadCommandKey } from "./command_key.ts";
import { compareAndSwap, CompareAndSwapExhaustedError, type Logger } from "../../runtime/mod.ts";
import type { NatsAccounts } from "./nats_accounts.ts";

/** Options of {@link DeviceProvisioning.open}. */
export interface DeviceProvisioningOptions {
  /** Region whose AUDIT stream records refusals. */
  readonly region: string;
  /** Lifetime of a device's credentials, seconds. Default 30 days. */
  readonly credentialsTtlS?: number;
  /** Connection with system-account credentials, to push revocations to the servers. */
  readonly system?: NatsConnection;
  /** Where refusals are logged. */
  readonly logger?: Logger;
}

/** A device's issued credentials, as recorded. */
export interface DeviceCredentialRecord {
  readonly deviceId: string;
  readonly machineId: string;
  readonly role: "primary" | "secondary";
  readonly region: string;
  readonly peers: string[];
  readonly publicKey: string;
  readonly batchId: string;
  readonly serial: string;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
}

/** A provisioning request was refused (the message says why). */
export class ProvisioningError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProvisioningError";
  }
}

const NONCE_TTL_MS = 5 * 60_000;

interface ProvisioningBuckets {
  registry: KV;
  revocations: KV;
  batches: KV;
  credentials: KV;
  claims: KV;
  nonces: KV;
  service: KV;
}

/** Batches, claims, renewals and revocations of devices' credentials. */
export class DeviceProvisioning {
  readonly #nc: NatsConnection;
  readonly #accounts: NatsAccounts;
  readonly #o: DeviceProvisioningOptions;
  readonly #kv: ProvisioningBuckets;

  private constructor(
    nc: NatsConnection,
    accounts: NatsAccounts,
    options: DeviceProvisioningOptions,
    kv: ProvisioningBuckets,
  ) {
    this.#nc = nc;
    this.#accounts = accounts;
    this.#o = options;
    this.#kv = kv;
  }

  /** Opens (creating) the buckets. */
  static async open(
    nc: NatsConnection,
    accounts: NatsAccounts,
    options: DeviceProvisioningOptions,
  ): Promise<DeviceProvisioning> {
    const provisioning = new DeviceProvisioning(nc, accounts, options, {
      registry: await openKv(nc, buckets.registry, { history: 5 }),
      revocations: await openKv(nc, buckets.revocations, { history: 1 }),
      batches: await openKv(nc, buckets.batches, { history: 1 }),
      credentials: await openKv(nc, buckets.deviceCredentials, { history: 5 }),
      claims: await openKv(nc, buckets.claims, { history: 1 }),
      nonces: await openKv(nc, buckets.provisionNonces, { history: 1, ttl: NONCE_TTL_MS }),
      service: await openKv(nc, buckets.service, { history: 1 }),
    });
    // Every instance's revocations, not only this one's (the account JWT carries them all).
    await provisioning.#syncRevocations();
    return provisioning;
  }

  /** Puts every revocation recorded in NATS into the accounts' devices JWT. */
  async #syncRevocations(): Promise<void> {
    const all: Record<string, number> = {};
    for await (const key of await this.#kv.revocations.keys()) {
      const e = await this.#kv.revocations.get(key);
      if (e?.operation === "PUT") all[key] = e.json<{ at: number }>().at;
    }
    await this.#accounts.mergeRevocations(all);
  }

  /** Revokes a public key everywhere: recorded in NATS, in the JWT, pushed to the servers. */
  async #revokeKey(publicKey: string, deviceId: string): Promise<void> {
    await this.#kv.revocations.put(
      publicKey,
      JSON.stringify({ deviceId, at: Math.floor(Date.now() / 1000) + 1 }),
    );
    await this.#syncRevocations();
    if (this.#o.system) await this.#accounts.pushAccount(this.#o.system, "devices");
  }

  /**
   * Adds a batch (its allowlist) and returns the claim credential its devices ship with
   * (a `.creds` text, valid `claimTtlS`, default one year).
   */
  async addBatch(input: unknown, options: { claimTtlS?: number } = {}): Promise<string> {
    const parsed = BatchSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TypeError(`Invalid batch: ${issue.path.join(".")}: ${issue.message}`);
    }
    const batch = parsed.data;
    try {
      await this.#kv.batches.create(batch.batchId, JSON.stringify(batch));
    } catch (cause) {
      if (!isRevisionConflict(cause)) throw cause; // only "exists" is "exists already"
      throw new ProvisioningError(`Batch "${batch.batchId}" exists already`, { cause });
    }
    const claim = await this.#accounts.claimCredentials(batch.batchId, {
      expiresInS: options.claimTtlS ?? 365 * 86_400,
    });
    return new TextDecoder().decode(claim.creds);
  }

  /** A device's credential record. */
  async record(deviceId: string): Promise<DeviceCredentialRecord | undefined> {
    const e = await this.#kv.credentials.get(deviceId);
    return e?.operation === "PUT" ? e.json<DeviceCredentialRecord>() : undefined;
  }

  /**
   * Revokes a device: every credential of its key is refused from now on and its connections
   * are closed (when a system connection was given); it cannot renew either.
   */
  async revoke(deviceId: string): Promise<DeviceCredentialRecord> {
    // The record first (compare-and-swap, so a renewal racing this cannot undo it), then the key.
    // Changed meanwhile (a renewal): read it again, 6 attempts in all. Anything else propagates.
    const written = await compareAndSwap<DeviceCredentialRecord>(
      { kv: this.#kv.credentials, key: deviceId },
      (record) => {
        if (!record) {
          throw new ProvisioningError(`Device "${deviceId}" has no credentials to revoke`);
        }
        return { ...record, revokedAt: Date.now() };
      },
      { attempts: 6 },
    ).catch((e) => {
      if (!(e instanceof CompareAndSwapExhaustedError)) throw e;
      throw new ProvisioningError(`Cannot revoke "${deviceId}": it keeps changing`, {
        cause: e.cause,
      });
    });
    const revoked = written.value;
    await this.#revokeKey(revoked.publicKey, deviceId);
    return revoked;
  }

  /** Answers nonce, claim and renewal requests until the signal aborts; resolves once subscribed. */
  async serve(options: { signal?: AbortSignal } = {}): Promise<void> {
    const handle = (fn: (msg: Msg) => Promise<ProvisioningReply>) => (_e: unknown, msg: Msg) => {
      fn(msg).catch((e) => {
        // The device is told (and asks again); the cloud's log says it too.
        this.#o.logger?.log("warn", "provisioning request failed", {
          subject: msg.subject,
          error: String(e),
        });
        return { ok: false as const, error: (e as Error).message.slice(0, 500) };
      })
        .then((reply) => msg.respond(JSON.stringify(reply)))
        .catch((e) =>
          this.#o.logger?.log("warn", "provisioning reply not sent", {
            subject: msg.subject,
            error: String(e),
          })
        );
    };
    const subs = [
      this.#nc.subscribe(filters.provisionNonces(), {
        queue: "provisioning",
        callback: handle((m) => this.#nonce(m)),
      }),
      this.#nc.subscribe(filters.provisionClaims(), {
        queue: "provisioning",
        callback: handle((m) => this.#claim(m)),
      }),
      this.#nc.subscribe(filters.credentialsRenewals({ region: this.#o.region }), {
        queue: "provisioning",
        callback: handle((m) => this.#renew(m)),
      }),
    ];
    options.signal?.addEventListener("abort", () => subs.forEach((s) => s.unsubscribe()), {
      once: true,
    });
    await this.#nc.flush();
  }

  async #nonce(msg: Msg): Promise<ProvisioningReply> {
    const { batchId } = provisionSubjectParts(msg.subject);
    if (!(await this.#kv.batches.get(batchId))?.value.length) {
      return await this.#refuse(`batch/${batchId}`, `unknown batch "${batchId}"`);
    }
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    const nonce = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
    await this.#kv.nonces.create(nonce, JSON.stringify({ batchId, at: Date.now() }));
    return { ok: true, nonce };
  }

  async #claim(msg: Msg): Promise<ProvisioningReply> {
    const { batchId } = provisionSubjectParts(msg.subject);
    const parsed = parseClaimRequest(msg.data);
    if (!parsed.ok) return await this.#refuse(`batch/${batchId}`, parsed.error.message);
    const c = parsed.value;
    const target = `batch/${batchId}/${c.serial}`;
    if (c.batchId !== batchId) {
      return await this.#refuse(target, `claim for batch "${c.batchId}" sent to "${batchId}"`);
    }
    const batchEntry = await this.#kv.batches.get(batchId);
    if (!batchEntry?.value.length) return await this.#refuse(target, `unknown batch "${batchId}"`);
    const batch = batchEntry.json<Batch>();
    const device = batch.devices.find((d) => d.serial === c.serial);
    if (!device) {
      return await this.#refuse(target, `serial "${c.serial}" is not in batch "${batchId}"`);
    }
    // The nonce: one the service gave for this batch, recently, used once.
    const n = await this.#kv.nonces.get(c.nonce);
    const given = n?.operation === "PUT" ? n.json<{ batchId: string; at: number }>() : undefined;
    if (!given || given.batchId !== batchId || Date.now() - given.at > NONCE_TTL_MS) {
      return await this.#refuse(target, "the nonce is unknown, used or stale");
    }
    try {
      await this.#kv.nonces.delete(c.nonce, { previousSeq: n!.revision });
    } catch (e) {
      // Used meanwhile (another claim won the race). Anything else propagates.
      if (!isRevisionConflict(e)) throw e;
      return await this.#refuse(target, "the nonce is unknown, used or stale");
    }
    let signed = false;
    try {
      signed = fromPublic(c.publicKey).verify(
        new TextEncoder().encode(c.nonce),
        fromBase64Url(c.signature),
      );
    } catch {
      // The try holds only the decoding of the device's own input (nkeys, base64, the
      // signature's size): whatever it throws, that is not a key or signature: refused below.
    }
    if (!signed) {
      return await this.#refuse(target, `the nonce is not signed by ${c.publicKey}`);
    }
    // A serial claims once: a second claim (a copied claim credential) is refused.
    try {
      await this.#kv.claims.create(
        `${batchId}.${c.serial}`,
        JSON.stringify({ publicKey: c.publicKey, at: Date.now() }),
      );
    } catch (e) {
      if (!isRevisionConflict(e)) throw e; // only "exists" is "claimed already"
      return await this.#refuse(target, `serial "${c.serial}" was claimed already`);
    }
    const peers = batch.devices
      .filter((d) => d.machineId === device.machineId && d.deviceId !== device.deviceId);
    const primary = batch.devices.find((d) =>
      d.machineId === device.machineId && d.role === "primary"
    );
    const record: DeviceCredentialRecord = {
      deviceId: device.deviceId,
      machineId: device.machineId,
      role: device.role,
      region: batch.region,
      peers: peers.map((p) => p.deviceId),
      publicKey: c.publicKey,
      batchId,
      serial: c.serial,
      expiresAt: 0,
      revokedAt: null,
    };
    // A device id provisioned again (a replaced device): its former key stops working.
    const former = await this.record(device.deviceId);
    if (former && former.publicKey !== c.publicKey) {
      await this.#revokeKey(former.publicKey, device.deviceId);
    }
    const identity = await this.#issue(record, primary?.deviceId);
    // Registered as the batch says (an operator's existing record is kept): the cloud unlocks a
    // machine's registered primary, never a device that only claims the machine in heartbeats.
    const now = Date.now();
    await this.#kv.registry.create(
      `device.${device.deviceId}`,
      JSON.stringify({
        id: device.deviceId,
        machineId: device.machineId,
        role: device.role,
        region: batch.region,
        tags: [],
        groups: [],
        createdAt: now,
        updatedAt: now,
      }),
    ).catch((e) => {
      // An operator's existing record is kept. Any other failure is said: the device has its
      // credentials (its claim is spent) but the registry does not list it.
      if (isRevisionConflict(e)) return;
      this.#o.logger?.log("error", "a provisioned device could not be registered", {
        device: device.deviceId,
        error: String(e),
      });
    });
    await this.#audit({
      action: "device.provisioned",
      target: `device/${device.deviceId}`,
      outcome: "ok",
      reason: null,
      actor: `batch/${batchId}/${c.serial}`,
    });
    return { ok: true, identity };
  }

  async #renew(msg: Msg): Promise<ProvisioningReply> {
    // NATS authenticated the device: only its own credentials may publish on its subject.
    const { deviceId } = deviceSubjectParts(msg.subject);
    const e = await this.#kv.credentials.get(deviceId);
    const record = e?.operation === "PUT" ? e.json<DeviceCredentialRecord>() : undefined;
    const revoked = record &&
      (record.revokedAt !== null || this.#accounts.isRevoked(record.publicKey) ||
        (await this.#kv.revocations.get(record.publicKey))?.operation === "PUT");
    if (!record || revoked) {
      return await this.#refuse(`device/${deviceId}`, `device "${deviceId}" may not renew`);
    }
    const primary = record.role === "primary" ? record.deviceId : record.peers[0];
    // Written only over the record just read: a revocation meanwhile wins.
    return { ok: true, identity: await this.#issue(record, primary, e!.revision) };
  }

  async #issue(record: DeviceCredentialRecord, primary: string | undefined, revision?: number) {
    const ttl = this.#o.credentialsTtlS ?? 30 * 86_400;
    const issued = await this.#accounts.deviceCredentials(
      { region: record.region, deviceId: record.deviceId, peers: record.peers },
      { publicKey: record.publicKey, expiresInS: ttl },
    );
    const expiresAt = issued.expiresAt!;
    const value = JSON.stringify({ ...record, expiresAt });
    if (revision === undefined) await this.#kv.credentials.put(record.deviceId, value);
    else {
      try {
        await this.#kv.credentials.update(record.deviceId, value, revision);
      } catch (cause) {
        throw new ProvisioningError(`The credentials of "${record.deviceId}" changed meanwhile`, {
          cause,
        });
      }
    }
    const commandKey: TrustedKey = (await loadCommandKey(this.#kv.service)).trusted;
    const identity: DeviceIdentity = {
      deviceId: record.deviceId,
      machineId: record.machineId,
      role: record.role,
      region: record.region,
      ...(record.role === "secondary" && primary ? { primaryDeviceId: primary } : {}),
      jwt: issued.jwt,
      expiresAt,
      commandKeys: [commandKey],
    };
    return identity;
  }

  async #refuse(target: string, reason: string): Promise<ProvisioningReply> {
    this.#o.logger?.log("warn", "provisioning refused", { target, reason });
    await this.#audit({ action: "device.claim_refused", target, outcome: "refused", reason });
    return { ok: false, error: reason };
  }

  async #audit(
    e: { action: string; target: string; outcome: "ok" | "refused"; reason: string | null } & {
      actor?: string;
    },
  ): Promise<void> {
    const entry: AuditEntry = {
      ...newEnvelope(),
      actor: { subject: e.actor ?? "provisioning", role: "service" },
      action: e.action,
      target: e.target.slice(0, 200),
      outcome: e.outcome,
      requestId: e.target.slice(0, 200),
      before: null,
      after: null,
      reason: e.reason?.slice(0, 200) ?? null,
    };
    await jetstream(this.#nc).publish(
      subjects.audit(this.#o.region, entry.action),
      auditEntry.encode(entry),
    ).catch((err) =>
      // What was done stands; the lost audit entry is said.
      this.#o.logger?.log("warn", "provisioning audit entry not published", {
        action: e.action,
        target: e.target,
        error: String(err),
      })
    );
  }
}
