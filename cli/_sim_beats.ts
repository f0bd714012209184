/**
 * The simulated devices' heartbeats and telemetry: each device beats once per interval, the fleet
 * spread evenly over the interval, on a timer of short ticks.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { subjects } from "../protocol/mod.ts";
import { simDeviceId, type SimMessages } from "./_sim_messages.ts";

/** What the devices beat with, and who hears of each beat. */
export interface SimBeatsOptions {
  /** Region of the devices. */
  readonly region: string;
  /** Device id prefix. */
  readonly prefix: string;
  /** Number of devices. */
  readonly devices: number;
  /** Heartbeat interval of each device, ms. */
  readonly intervalMs: number;
  /** Telemetry every this many heartbeats (0: never; undefined: 10). */
  readonly telemetryEvery: number | undefined;
  /** The first K devices fall silent at `silentFrom`. */
  readonly offline: number;
  /** When the silent devices stop beating (epoch ms; 0: from the start). */
  readonly silentFrom: number;
  /** The devices' messages. */
  readonly messages: SimMessages;
  /** Called with each heartbeat's device id and publish time. */
  readonly onBeat: ((deviceId: string, at: number) => void) | undefined;
  /** Counted once for each message sent. */
  readonly counts: { heartbeats: number; telemetry: number };
}

/** Starts the devices beating over `conns` (device k on connection k mod their number). */
export function startBeats(
  conns: NatsConnection[],
  options: SimBeatsOptions,
): ReturnType<typeof setInterval> {
  const { region, prefix, counts, messages } = options;
  const n = options.devices;
  const tickMs = 20;
  const perTick = n / (options.intervalMs / tickMs);
  const seqs = new Uint32Array(n);
  let cursor = 0;
  let carry = 0;
  const silent = options.offline;
  const silentFrom = options.silentFrom;
  return setInterval(() => {
    carry += perTick;
    const now = Date.now();
    while (carry >= 1) {
      carry--;
      const k = cursor;
      cursor = (cursor + 1) % n;
      if (k < silent && now >= silentFrom) continue;
      const seq = seqs[k]!++;
      const nc = conns[k % conns.length]!;
      const dev = { region, deviceId: simDeviceId(k, prefix) };
      nc.publish(subjects.heartbeat(dev), messages.beat(k, seq, now));
      options.onBeat?.(dev.deviceId, now);
      counts.heartbeats++;
      if (options.telemetryEvery !== 0 && seq % (options.telemetryEvery ?? 10) === 0) {
        nc.publish(subjects.telemetry(dev), messages.tel(k, now));
        counts.telemetry++;
      }
    }
  }, tickMs);
}
