/**
 * Unlocks a machine for a payment session: the `unlock` command, carrying the session id (which
 * becomes the door session's id on the device), sent over NATS to the machine's primary device
 * and recorded in the commands bucket like an operator's. The primary is the registered device of
 * the machine with the `primary` role; a machine that is not registered is tried through the
 * devices the cloud has heard from (a secondary refuses: the command is the primary's).
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { FleetState } from "./fleet_state.ts";
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
import {
  type CommandRequest,
  commandRequest,
  newEnvelope,
  parseCommandReply,
  subjects,
} from "../protocol/mod.ts";
import type { CommandRecord } from "./fleet_model.ts";
import type { FleetState } from "./fleet_state.ts";
import type { MachineUnlocker } from "./payment_service.ts";

/** Options of {@link natsMachineUnlocker}. */
export interface NatsMachineUnlockerOptions {
  /** The region of devices whose region the cloud does not know. */
  readonly region: string;
  /** How long the lock stays released for the customer to open the door, ms. Default 30,000. */
  readonly unlockMs?: number;
  /** How long to wait for the device's answer, ms (a busy device over 5G is slow). Default 15,000. */
  readonly timeoutMs?: number;
}

/** A {@link MachineUnlocker} that sends the unlock command over NATS. */
export function natsMachineUnlocker(
  nc: NatsConnection,
  state: FleetState,
  options: NatsMachineUnlockerOptions,
): MachineUnlocker {
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
        const now = Date.now();
        const request: CommandRequest = {
          ...newEnvelope(now),
          deviceId: device.id,
          issuer: "cloud/payments",
          expiresAt: now + (options.timeoutMs ?? 15_000),
          command: "unlock",
          args: { sessionId, durationMs: options.unlockMs ?? 30_000 },
        };
        const record: CommandRecord = {
          id: request.id,
          deviceId: device.id,
          command: "unlock",
          args: request.args,
          issuer: request.issuer,
          createdAt: now,
          expiresAt: request.expiresAt,
          status: "sent",
          result: null,
          error: null,
          updatedAt: now,
        };
        const save = (r: CommandRecord) =>
          state.commands.put(r.id, JSON.stringify(r)).catch(() => 0);
        await save(record);
        try {
          const msg = await nc.request(
            subjects.command(
              { region: device.region ?? options.region, deviceId: device.id },
              "unlock",
            ),
            commandRequest.encode(request),
            { timeout: options.timeoutMs ?? 15_000 },
          );
          const reply = parseCommandReply(msg.data);
          if (reply.ok && reply.value.status === "ok") {
            await save({
              ...record,
              status: "succeeded",
              result: reply.value.result,
              updatedAt: Date.now(),
            });
            return { deviceId: device.id, commandId: request.id };
          }
          const why = reply.ok && reply.value.status === "error"
            ? `${reply.value.error.code}: ${reply.value.error.message}`
            : "invalid reply";
          await save({
            ...record,
            status: "failed",
            error: { code: "refused", message: why.slice(0, 200) },
            updatedAt: Date.now(),
          });
          errors.push(`${device.id} refused (${why})`);
        } catch (e) {
          await save({
            ...record,
            status: "no_reply",
            error: { code: "no_reply", message: String((e as Error).message).slice(0, 200) },
            updatedAt: Date.now(),
          });
          errors.push(`${device.id} did not answer`);
        }
      }
      throw new Error(`Machine "${machineId}" did not unlock: ${errors.join("; ")}`);
    },
  };
}
