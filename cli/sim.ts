/**
 * `./vend sim --devices N`: a fleet simulator for load tests and the demo. N lightweight
 * simulated devices (named `sim-<k>-a`; simulations, not agents) heartbeat, report telemetry and
 * answer commands, following the protocol/ schemas, against any NATS URL.
 *
 * ```
 * ./vend sim --devices 100000 [--interval-ms 2000] [--telemetry-every 10] [--region local]
 *            [--duration S] [--url nats://...] [--connections 4] [--offline K]
 *            [--command-key KEYID:PUBLICKEY]...
 * ```
 *
 * Like real devices, the simulated ones take only commands signed by a `--command-key` (the
 * public part of the cloud's command key, `loadCommandKey` of the `service` bucket), and
 * connect with `NATS_CREDS` (the simulator's own credentials: any device's heartbeats and
 * telemetry, never issued to a real device). Prints `sim: N devices, R heartbeats/s` on stdout when running, then one JSON line of counts
 * when it stops.
 *
 * @example
 * ```sh
 * NATS_URL=nats://127.0.0.1:4222 ./vend sim --devices 1000 --duration 60
 * ```
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { errors, type NatsConnection } from "@nats-io/nats-core";
import { connectNats, type NatsTarget } from "../cloud/mod.ts";
import { CommandProcessor } from "../edge/mod.ts";
import {
  deviceSubjectParts,
  filters,
  heartbeat,
  newMessageId,
  parseHeartbeat,
  subjects,
  type TrustedKey,
} from "../protocol/mod.ts";

/** Options of {@link runSimulator}. */
export interface SimulatorOptions {
  /** Number of devices. */
  readonly devices: number;
  /** Heartbeat interval of each device, ms. Default 2000. */
  readonly intervalMs?: number;
  /** Telemetry every this many heartbeats (0: never). Default 10. */
  readonly telemetryEvery?: number;
  /** Region. Default `local`. */
  readonly region?: string;
  /** Connections to spread the devices over. Default 4. */
  readonly connections?: number;
  /** Device id prefix. Default `sim`. */
  readonly prefix?: string;
  /** The first K devices stay silent (offline). Default 0. */
  readonly offline?: number;
  /** With `offline`, those devices beat normally until this many ms, then fall silent. */
  readonly silenceAfterMs?: number;
  /**
   * The cloud's command keys the simulated devices pin (as real ones do); without any they refuse
   * every command, as a real device would.
   */
  readonly commandKeys?: readonly TrustedKey[];
  /** Called with each heartbeat's device id and publish time (benchmarks measure lag with it). */
  readonly onBeat?: (deviceId: string, at: number) => void;
  /**
   * Told of what fails without stopping the simulator (a command not answered, a connection
   * that would not drain). Default: printed on stderr.
   */
  readonly onError?: (error: Error) => void;
  /** Stops the simulator. */
  readonly signal: AbortSignal;
}

/** Counts of what the simulator sent. */
export interface SimulatorCounts {
  heartbeats: number;
  telemetry: number;
  commands: number;
}

/** The id of simulated device `k`. */
export function simDeviceId(k: number, prefix = "sim"): string {
  return `${prefix}-${k}-a`;
}

/** Runs simulated devices until the signal aborts; resolves with what they sent. */
export async function runSimulator(
  url: string | NatsTarget,
  options: SimulatorOptions,
): Promise<SimulatorCounts> {
  const n = options.devices;
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) {
    throw new RangeError(`Invalid device count ${n}: expected 1-1,000,000`);
  }
  const interval = options.intervalMs ?? 2000;
  const region = options.region ?? "local";
  const prefix = options.prefix ?? "sim";
  const counts: SimulatorCounts = { heartbeats: 0, telemetry: 0, commands: 0 };
  const conns: NatsConnection[] = [];
  for (let i = 0; i < (options.connections ?? 4); i++) {
    conns.push(await connectNats(url, { name: `vend-sim-${i}` }));
  }

  // Heartbeats are built from a template (validated once) so that the simulator itself is cheap.
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

  // Commands: one journaled processor per device that gets one (in memory).
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
      }, { trustedKeys: options.commandKeys ?? [] });
      processors.set(deviceId, p);
    }
    return await p.handle(data);
  };
  const ids = new RegExp(`^${prefix}-(\\d+)-a$`);
  const cmdSub = conns[0]!.subscribe(filters.commands({ region }), {
    callback: (_e, m) => {
      const { deviceId } = deviceSubjectParts(m.subject);
      const k = Number(ids.exec(deviceId)?.[1] ?? NaN);
      if (!(k >= (options.offline ?? 0) && k < n)) return;
      counts.commands++;
      void respond(deviceId, m.data).then((r) => m.respond(r)).catch((e) =>
        (options.onError ?? ((err) => console.error(`sim: ${deviceId}: ${err.message}`)))(e)
      );
    },
  });

  // Each device beats once per interval; the fleet is spread evenly over the interval.
  const tickMs = 20;
  const perTick = n / (interval / tickMs);
  const seqs = new Uint32Array(n);
  let cursor = 0;
  let carry = 0;
  const silent = options.offline ?? 0;
  const silentFrom = options.silenceAfterMs === undefined ? 0 : Date.now() + options.silenceAfterMs;
  const timer = setInterval(() => {
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
      nc.publish(subjects.heartbeat(dev), beat(k, seq, now));
      options.onBeat?.(dev.deviceId, now);
      counts.heartbeats++;
      if (options.telemetryEvery !== 0 && seq % (options.telemetryEvery ?? 10) === 0) {
        nc.publish(subjects.telemetry(dev), tel(k, now));
        counts.telemetry++;
      }
    }
  }, tickMs);
  if (!options.signal.aborted) {
    await new Promise((resolve) =>
      options.signal.addEventListener("abort", resolve, { once: true })
    );
  }
  clearInterval(timer);
  cmdSub.unsubscribe();
  await Promise.all(conns.map((c) =>
    c.drain().catch((e) => {
      // Closed already (the server went away): nothing to drain. Anything else is said.
      if (!(e instanceof errors.ClosedConnectionError)) {
        (options.onError ?? ((err) => console.error(`sim: drain: ${err.message}`)))(e);
      }
      return c.close();
    })
  ));
  db.close();
  return counts;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      devices: { type: "string" },
      "interval-ms": { type: "string", default: "2000" },
      "telemetry-every": { type: "string", default: "10" },
      region: { type: "string", default: "local" },
      duration: { type: "string" },
      url: { type: "string" },
      connections: { type: "string", default: "4" },
      offline: { type: "string", default: "0" },
      "silence-after-ms": { type: "string" },
      "command-key": { type: "string", multiple: true },
    },
    strict: true,
  });
  const creds = Deno.env.get("NATS_CREDS");
  const ca = Deno.env.get("NATS_CA");
  const url: NatsTarget = {
    url: values.url ?? Deno.env.get("NATS_URL") ?? "nats://127.0.0.1:4222",
    ...(creds ? { credentialsFile: creds } : {}),
    ...(ca ? { caFile: ca } : {}),
  };
  const commandKeys: TrustedKey[] = [];
  for (const spec of values["command-key"] ?? []) {
    const m = /^([A-Za-z0-9_-]{8,64}):([A-Za-z0-9_-]{43})$/.exec(spec);
    if (!m) {
      console.error(`sim: --command-key must be KEYID:PUBLICKEY, got ${JSON.stringify(spec)}`);
      Deno.exit(2);
    }
    commandKeys.push({ keyId: m[1]!, publicKey: m[2]! });
  }
  const devices = Number(values.devices ?? "");
  if (!Number.isInteger(devices) || devices < 1) {
    console.error(
      `sim: --devices must be a positive integer, got ${JSON.stringify(values.devices ?? "")}`,
    );
    Deno.exit(2);
  }
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => stop.abort());
  if (values.duration) setTimeout(() => stop.abort(), Number(values.duration) * 1000);
  const interval = Number(values["interval-ms"]);
  console.log(`sim: ${devices} devices, ${Math.round((devices * 1000) / interval)} heartbeats/s`);
  try {
    const counts = await runSimulator(url, {
      devices,
      intervalMs: interval,
      telemetryEvery: Number(values["telemetry-every"]),
      region: values.region!,
      connections: Number(values.connections),
      offline: Number(values.offline),
      ...(values["silence-after-ms"] ? { silenceAfterMs: Number(values["silence-after-ms"]) } : {}),
      commandKeys,
      signal: stop.signal,
    });
    console.log(JSON.stringify(counts));
    Deno.exit(0);
  } catch (e) {
    console.error(`sim: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
