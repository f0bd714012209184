/**
 * Health of the service's NATS connection and JetStream.
 *
 * @module
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/** Outcome of a health check: overall and per dependency. */
export interface Health {
  /** True when every check passed. */
  readonly ok: boolean;
  /** Each dependency's result, e.g. `{ nats: "connected", jetstream: "ok" }`. */
  readonly checks: Record<string, string>;
}

/** Checks that `nc` is connected and JetStream answers. */
export async function natsHealth(nc: NatsConnection): Promise<Health> {
  if (nc.isClosed()) return { ok: false, checks: { nats: "closed", jetstream: "unknown" } };
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const info = await jsm.getAccountInfo();
    return { ok: true, checks: { nats: "connected", jetstream: `ok (${info.streams} streams)` } };
  } catch (e) {
    return {
      ok: false,
      checks: { nats: nc.isClosed() ? "closed" : "connected", jetstream: (e as Error).message },
    };
  }
}
