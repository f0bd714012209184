/**
 * The simulated devices' commands: one journaled processor (in memory) per device that gets one,
 * taking only commands signed by a pinned key, as real devices do.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { NatsConnection } from "@nats-io/nats-core";
import { CommandProcessor } from "../edge/delivery/mod.ts";
import { deviceSubjectParts, filters, type TrustedKey } from "../protocol/mod.ts";

/** Which devices answer commands, and how. */
export interface SimCommandsOptions {
  /** Region of the devices. */
  readonly region: string;
  /** Device id prefix. */
  readonly prefix: string;
  /** Number of devices. */
  readonly devices: number;
  /** The first K devices are offline and answer nothing. */
  readonly offline: number;
  /** The keys the devices pin. */
  readonly commandKeys: readonly TrustedKey[];
  /** Told of a command not answered. Default: printed on stderr. */
  readonly onError: ((error: Error) => void) | undefined;
  /** Counted once for each command taken. */
  readonly counts: { commands: number };
}

/** The running command answering; stopped in two steps, as the simulator stops. */
export interface SimCommands {
  /** Stops taking commands. */
  unsubscribe(): void;
  /** Closes the processors' journal (after the connections are drained). */
  close(): void;
}

/** Answers the commands of the simulated devices, subscribed on `nc`. */
export function answerCommands(nc: NatsConnection, options: SimCommandsOptions): SimCommands {
  const { region, prefix, counts } = options;
  const n = options.devices;
  const db = new DatabaseSync(":memory:");
  const processors = new Map<string, CommandProcessor>();
  const respond = async (deviceId: string, data: Uint8Array) => {
    let p = processors.get(deviceId);
    if (!p) {
      p = new CommandProcessor(db, deviceId, {
        unlock: () => Promise.resolve({ locked: false, simulated: true }),
        lock: () => Promise.resolve({ locked: true, simulated: true }),
        diagnostics: () => Promise.resolve({ simulated: true }),
        restart_pipeline: () => Promise.resolve({ restarted: true, simulated: true }),
      }, { trustedKeys: options.commandKeys });
      processors.set(deviceId, p);
    }
    return await p.handle(data);
  };
  const ids = new RegExp(`^${prefix}-(\\d+)-a$`);
  const cmdSub = nc.subscribe(filters.commands({ region }), {
    callback: (_e, m) => {
      const { deviceId } = deviceSubjectParts(m.subject);
      const k = Number(ids.exec(deviceId)?.[1] ?? NaN);
      if (!(k >= options.offline && k < n)) return;
      counts.commands++;
      void respond(deviceId, m.data).then((r) => m.respond(r)).catch((e) =>
        (options.onError ?? ((err) => console.error(`sim: ${deviceId}: ${err.message}`)))(e)
      );
    },
  });
  return {
    unsubscribe: () => cmdSub.unsubscribe(),
    close: () => db.close(),
  };
}
