/**
 * The demo's admin: its connection to NATS, a token for the API, the command key every device
 * pins, and a one-time login link for the dashboard.
 *
 * @module
 */
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLoginCode } from "../cloud/auth/mod.ts";
import { connectNats, TokenService } from "../cloud/mod.ts";
import { loadCommandKey } from "../cloud/provisioning/mod.ts";
import type { NatsEndpoint } from "../cloud/dev/mod.ts";
import { buckets, type TrustedKey } from "../protocol/mod.ts";

/** What the demo's admin holds. */
export interface DemoAdmin {
  /** The demo's connection (closed by the demo when it stops). */
  readonly nc: NatsConnection;
  /** An admin token for the API. */
  readonly token: string;
  /** The key that signs the cloud's commands. */
  readonly commandKey: TrustedKey;
}

/**
 * Connects to `nats`, issues an admin token and prints `dashboard: URL` (a one-time login link
 * at `api`, signed with the fleet's shared key). The connection is closed if a step fails.
 */
export async function loginAdmin(nats: NatsEndpoint, api: string): Promise<DemoAdmin> {
  const nc = await connectNats(nats, { name: "vend-demo" });
  let token: string;
  let commandKey: TrustedKey;
  try {
    const service = await new Kvm(nc).create(buckets.service, { history: 1 });
    // What every device pins: the key that signs the cloud's commands.
    commandKey = (await loadCommandKey(service)).trusted;
    token = await (await TokenService.open(service)).issue({
      subject: "demo-admin",
      role: "admin",
    });
    console.log(`dashboard: ${api}/login?code=${await createLoginCode(service, token)}`);
  } catch (e) {
    await nc.close();
    throw e;
  }
  return { nc, token, commandKey };
}
