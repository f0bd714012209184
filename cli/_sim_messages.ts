/**
 * What a simulated device sends: its id, and its heartbeats and telemetry, built from a template
 * (validated once) so that the simulator itself is cheap.
 *
 * @module
 */
import { heartbeat, newMessageId, parseHeartbeat } from "../protocol/mod.ts";

/** The id of simulated device `k`. */
export function simDeviceId(k: number, prefix = "sim"): string {
  return `${prefix}-${k}-a`;
}

/** The encoded messages of simulated device `k`. */
export interface SimMessages {
  /** Heartbeat number `seq` of device `k`, sent at `now`. */
  beat(k: number, seq: number, now: number): Uint8Array;
  /** A telemetry report of device `k`, sent at `now`. */
  tel(k: number, now: number): Uint8Array;
}

/**
 * The messages of the devices named with `prefix`, beating every `intervalMs`; throws when the
 * heartbeat template does not match the schema.
 */
export function simMessages(prefix: string, options: { intervalMs: number }): SimMessages {
  const interval = options.intervalMs;
  const encoder = new TextEncoder();
  const sample = heartbeat.encode({
    v: 1,
    id: newMessageId(),
    ts: Date.now(),
    deviceId: simDeviceId(0, prefix),
    machineId: `${prefix}-0`,
    role: "primary",
    seq: 0,
    uptimeMs: 0,
    status: "ok",
    door: "closed",
    appVersion: "0.1.0",
    modelVersion: null,
  });
  if (!parseHeartbeat(sample).ok) {
    throw new Error("simulator heartbeat template does not match the schema");
  }
  const beat = (k: number, seq: number, now: number) =>
    encoder.encode(
      `{"v":1,"id":"${newMessageId(now)}","ts":${now},"deviceId":"${
        simDeviceId(k, prefix)
      }","machineId":"${prefix}-${k}","role":"primary","seq":${seq},"uptimeMs":${
        seq * interval
      },"status":"ok","door":"closed","appVersion":"0.1.0","modelVersion":null}`,
    );
  const tel = (k: number, now: number) =>
    encoder.encode(JSON.stringify({
      v: 1,
      id: newMessageId(now),
      ts: now,
      deviceId: simDeviceId(k, prefix),
      cpu: { usage: 0.2, load1: 0.5 },
      memory: { rssBytes: 120e6, usedBytes: 600e6, totalBytes: 2e9 },
      disk: { usedBytes: 3e9, totalBytes: 16e9 },
      temperatureC: 50 + (k % 10),
      door: "closed",
      cameras: [],
      stages: [],
      outbox: { depth: 0, bytes: 0, capacityBytes: 256 * 1024 * 1024 },
      appVersion: "0.1.0",
      modelVersion: null,
    }));
  return { beat, tel };
}
