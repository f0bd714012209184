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
import { compareAndSwap } from "../../runtime/mod.ts";

const KEY = "commands.signing_key";

/** Loads the command signing key from the service bucket, creating it on first use. */
export async function loadCommandKey(service: KV): Promise<SigningKey> {
  // Another instance made it first: read theirs (3 attempts in all). Anything else propagates.
  let key: SigningKey | undefined;
  await compareAndSwap<JsonWebKey>({ kv: service, key: KEY }, async (stored) => {
    if (stored) {
      key = await importSigningKey(stored);
      return undefined; // there already: nothing to write
    }
    const made = await generateSigningKey();
    key = made;
    return made.privateJwk;
  }, { attempts: 3 });
  return key!;
}
