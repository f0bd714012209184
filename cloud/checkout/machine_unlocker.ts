/**
 * Unlocks a machine for a payment session: the `unlock` command, carrying the session id (which
 * becomes the door session's id on the device), sent to the machine's primary device through the
 * same {@link CommandSender} as an operator's commands, so it is recorded in the commands bucket
 * the same way. The primary is the registered device of the machine with the `primary` role; a
 * machine that is not registered is tried through the devices the cloud has heard from (a
 * secondary refuses: the command is the primary's).
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { FleetState } from "../fleet/mod.ts";
 * import { natsMachineUnlocker } from "./machine_unlocker.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const unlocker = natsMachineUnlocker(nc, await FleetState.open(nc), { region: "local" });
 * await unlocker.unlock("m001", "pay-0190a8c2-7c2e-7c6e-9c1a-3f1e2d4c5b6a");
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { CommandSender, type FleetState } from "../fleet/mod.ts";
import type { MachineUnlocker } from "./payment_service.ts";
import type { Logger } from "../../runtime/mod.ts";

/** Options of {@link natsMachineUnlocker}. */
export interface NatsMachineUnlockerOptions {
  /** The region of devices whose region the cloud does not know. */
  readonly region: string;
  /** How long the lock stays released for the customer to open the door, ms. Default 30,000. */
  readonly unlockMs?: number;
  /** How long to wait for the device's answer, ms (a busy device over 5G is slow). Default 15,000. */
  readonly timeoutMs?: number;
  /** Where an unlock's outcome that could not be stored is logged. */
  readonly logger?: Logger;
}

/** A {@link MachineUnlocker} that sends the unlock command over NATS. */
export function natsMachineUnlocker(
  nc: NatsConnection,
  state: FleetState,
  options: NatsMachineUnlockerOptions,
): MachineUnlocker {
  const sender = new CommandSender(nc, state, options.logger ? { logger: options.logger } : {});
  return {
    async unlock(machineId, sessionId) {
      const registered = [...state.devices.entries()]
        .filter(([, e]) => e.value.machineId === machineId && e.value.role === "primary")
        .map(([id, e]) => ({ id, region: e.value.region }));
      const heard = [...state.statuses.entries()]
        .filter(([, e]) => e.value.machineId === machineId && e.value.status === "online")
        .map(([id, e]) => ({ id, region: e.value.region }));
      const candidates = registered.length ? registered : heard;
      if (candidates.length === 0) {
        throw new Error(`Machine "${machineId}" has no primary device online`);
      }
      const errors: string[] = [];
      for (const device of candidates) {
        const { reply } = await sender.send({
          deviceId: device.id,
          // This region's subject: the session is this region's, and the device sends its
          // events here (it takes commands from any region, its own or a failover one).
          region: options.region,
          command: "unlock",
          args: { sessionId, durationMs: options.unlockMs ?? 30_000 },
          issuer: "cloud/payments",
          ttlMs: options.timeoutMs ?? 15_000,
        });
        const done = await reply;
        if (done.status === "succeeded") return { deviceId: device.id, commandId: done.id };
        errors.push(
          done.status === "no_reply"
            ? `${device.id} did not answer`
            : `${device.id} refused (${done.error?.code}: ${done.error?.message})`,
        );
      }
      throw new Error(`Machine "${machineId}" did not unlock: ${errors.join("; ")}`);
    },
  };
}
