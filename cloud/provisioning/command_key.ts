/**
 * The cloud's command signing key: an Ed25519 key every cloud instance shares (kept in the
 * `service` bucket, made on first use), which signs every command sent to a device. Devices pin
 * its public key at provisioning and refuse commands it did not sign.
 *
 * @example
 * ```ts
 * import { Kvm } from "@nats-io/kv";
 * import { loadCommandKey } from "./command_key.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * const key = await loadCommandKey(await new Kvm(nc).create("service"));
 * console.log(key.trusted); // what devices pin: { keyId, publicKey }
 * ```
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import { generateSigningKey, importSigningKey, type SigningKey } from "../../protocol/mod.ts";
import { isRevisionConflict } from "../nats/mod.ts";

const KEY = "commands.signing_key";

/** Loads the command signing key from the service bucket, creating it on first use. */
export async function loadCommandKey(service: KV): Promise<SigningKey> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await service.get(KEY);
    if (existing?.value.length) return await importSigningKey(existing.json<JsonWebKey>());
    const made = await generateSigningKey();
    try {
      await service.create(KEY, JSON.stringify(made.privateJwk));
      return made;
    } catch (e) {
      // Another instance made it first: read theirs. Anything else propagates.
      if (!isRevisionConflict(e)) throw e;
    }
  }
  throw new Error(`Cannot create or read the command signing key "${KEY}"`);
}
