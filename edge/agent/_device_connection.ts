/**
 * The device's NATS connection and the credentials it dials with: a connection that reconnects
 * forever (jittered backoff, failover across servers, home region first), the region it serves
 * now, and the renewal of its credentials (a reconnect once no door session is in progress).
 *
 * @module
 */
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { deviceInboxPrefix } from "../../protocol/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import { DEVICE_RECONNECT, forceReconnect, type HomeFirst, homeFirst } from "../delivery/mod.ts";
import type { DoorState } from "../hardware/mod.ts";
import { readIdentity, renewCredentials } from "../provisioning/mod.ts";
import { drainWithin, sleep } from "../../runtime/mod.ts";
import type { AgentLog, FailureLog } from "./_log_ring.ts";

/** Options of {@link DeviceConnection}. */
export interface DeviceConnectionOptions {
  /** Log sink. */
  readonly log: AgentLog;
  /** Failures that must not stop the agent. */
  readonly failed: FailureLog;
}

/** The device's connection to NATS: it starts dialing when made. */
export class DeviceConnection {
  /** The first connection (rejects if it cannot be made). */
  readonly connecting: Promise<NatsConnection>;
  readonly #config: Pick<AgentConfig, "nats" | "deviceId" | "region">;
  readonly #options: DeviceConnectionOptions;
  #nc: NatsConnection | undefined;
  #connected = false;
  /** The dialing policy when the device has failover servers in other regions. */
  #homeFirst: HomeFirst | undefined;

  /** Starts connecting with `config`'s servers and credentials. */
  constructor(
    config: Pick<AgentConfig, "nats" | "deviceId" | "region">,
    options: DeviceConnectionOptions,
  ) {
    this.#config = config;
    this.#options = options;
    this.connecting = this.#connect();
  }

  /** True while connected to NATS. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The connection, once the first one is made. */
  get nc(): NatsConnection | undefined {
    return this.#nc;
  }

  /** The dialing policy when the device has failover servers in other regions. */
  get homeFirst(): HomeFirst | undefined {
    return this.#homeFirst;
  }

  async #connect(): Promise<NatsConnection> {
    const { log, failed } = this.#options;
    const credsFile = this.#config.nats.credentialsFile;
    // Read at every (re)connect: rotated credentials take effect on the next connection.
    const creds = credsFile ? () => Deno.readFileSync(credsFile) : undefined;
    // Home first (in random order, to spread the region's devices), then the other regions'.
    const home = [...this.#config.nats.servers].sort(() => Math.random() - 0.5);
    const failover = this.#config.nats.failover ?? [];
    this.#homeFirst = failover.length ? homeFirst(home) : undefined;
    const nc = await connect({
      servers: [...home, ...failover],
      ...DEVICE_RECONNECT,
      ...(this.#homeFirst
        ? { noRandomize: true, reconnectToServer: this.#homeFirst.choose }
        : { timeout: 20_000 }),
      name: this.#config.deviceId,
      waitOnFirstConnect: true,
      // Replies and deliveries come to the device's own inboxes (its credentials allow no other).
      inboxPrefix: deviceInboxPrefix(this.#config.deviceId),
      ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
      ...(this.#config.nats.caFile ? { tls: { caFile: this.#config.nats.caFile } } : {}),
    });
    this.#nc = nc;
    this.#connected = true;
    log("info", "connected to NATS", { server: nc.getServer() });
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.#connected = false;
          log("warn", "NATS connection lost");
        } else if (s.type === "reconnect") {
          this.#connected = true;
          log("info", "NATS connection back", { server: nc.getServer() });
        }
      }
    })().catch((e) => failed("agent", "NATS status watch failed", e));
    return nc;
  }

  /**
   * The region whose servers the device is connected to: where its heartbeats, telemetry and
   * new sessions go. Its home region, unless it has failover servers and is on another region's
   * (a supercluster's clusters are named after their regions).
   */
  servingRegion(): string {
    const cluster = this.#nc?.info?.cluster;
    if (
      !this.#config.nats.failover?.length || !cluster ||
      !/^[a-z0-9][a-z0-9-]{0,30}$/.test(cluster)
    ) {
      return this.#config.region;
    }
    return cluster;
  }

  /** This device's address in the region it reports to now. */
  reportAddress(): { region: string; deviceId: string } {
    return { region: this.servingRegion(), deviceId: this.#config.deviceId };
  }

  /**
   * Drains `nc`, the connection there was when the stop began (bounded); without one, closes a
   * first connection that comes after the stop.
   */
  async close(nc: NatsConnection | undefined): Promise<void> {
    const { log, failed } = this.#options;
    if (nc) {
      // Bounded: a stuck connection's drain never ends, and the program would not either.
      const end = await drainWithin(nc, { timeoutMs: 2000 }).catch((e) => {
        failed("agent", "the NATS connection did not close cleanly", e, {}, "warn");
        return "failed";
      });
      if (end !== "drained") log("warn", "the NATS connection did not drain", { end });
    } else {
      // Stopped before the first connection: one that comes late is closed. A first connection
      // that failed leaves nothing to close (and was logged if it failed before the stop).
      this.connecting.then(
        (c) =>
          c.close().catch((e) =>
            failed("agent", "cannot close the late connection", e, {}, "warn")
          ),
        (e) => log("debug", "no connection to close", { error: String(e) }),
      );
    }
  }
}

/** Options of {@link keepCredentials}. */
export interface KeepCredentialsOptions {
  /** Where the identity is, and when to renew it. */
  readonly config: Pick<AgentConfig, "provisioning" | "dataDir">;
  /** The door's state now (a rotation waits while it is open). */
  readonly door: () => DoorState | "unknown";
  /** Log sink. */
  readonly log: AgentLog;
}

/**
 * Renews the device's credentials `renewBeforeS` before they expire, then moves the
 * connection to them (a reconnect) once no door session is in progress: a customer's session
 * is never cut by a rotation.
 */
export async function keepCredentials(
  nc: NatsConnection,
  signal: AbortSignal,
  options: KeepCredentialsOptions,
): Promise<void> {
  const { config, door, log } = options;
  const { renewBeforeS } = config.provisioning!;
  while (!signal.aborted) {
    const identity = await readIdentity(config.dataDir);
    if (!identity) return;
    const dueAt = (identity.expiresAt - renewBeforeS) * 1000;
    if (Date.now() < dueAt) {
      await sleep(Math.max(0, Math.min(dueAt - Date.now(), 60_000)), { signal });
      continue;
    }
    const renewed = await renewCredentials(nc, config.dataDir);
    log("info", "credentials renewed", { expiresAt: renewed.expiresAt });
    while (door() === "open" && !signal.aborted) await sleep(250, { signal });
    if (signal.aborted) return;
    await forceReconnect(nc);
    log("info", "reconnected with the renewed credentials");
  }
}
