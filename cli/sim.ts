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
import { parseArgs } from "node:util";
import { errors, type NatsConnection } from "@nats-io/nats-core";
import { connectNats, type NatsTarget } from "../cloud/mod.ts";
import type { TrustedKey } from "../protocol/mod.ts";
import { startBeats } from "./_sim_beats.ts";
import { answerCommands } from "./_sim_commands.ts";
import { simMessages } from "./_sim_messages.ts";

export { simDeviceId } from "./_sim_messages.ts";

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

/** Opens the simulator's connections, named `vend-sim-<i>`. */
async function connectAll(url: string | NatsTarget, count: number): Promise<NatsConnection[]> {
  const conns: NatsConnection[] = [];
  for (let i = 0; i < count; i++) {
    conns.push(await connectNats(url, { name: `vend-sim-${i}` }));
  }
  return conns;
}

/** Drains every connection; one that will not drain is closed (and said, unless closed already). */
async function drainAll(
  conns: NatsConnection[],
  onError: ((error: Error) => void) | undefined,
): Promise<void> {
  await Promise.all(conns.map((c) =>
    c.drain().catch((e) => {
      // Closed already (the server went away): nothing to drain. Anything else is said.
      if (!(e instanceof errors.ClosedConnectionError)) {
        (onError ?? ((err) => console.error(`sim: drain: ${err.message}`)))(e);
      }
      return c.close();
    })
  ));
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
  const conns = await connectAll(url, options.connections ?? 4);
  const messages = simMessages(prefix, { intervalMs: interval });
  const commands = answerCommands(conns[0]!, {
    region,
    prefix,
    devices: n,
    offline: options.offline ?? 0,
    commandKeys: options.commandKeys ?? [],
    onError: options.onError,
    counts,
  });
  const timer = startBeats(conns, {
    region,
    prefix,
    devices: n,
    intervalMs: interval,
    telemetryEvery: options.telemetryEvery,
    offline: options.offline ?? 0,
    silentFrom: options.silenceAfterMs === undefined ? 0 : Date.now() + options.silenceAfterMs,
    messages,
    onBeat: options.onBeat,
    counts,
  });
  if (!options.signal.aborted) {
    await new Promise((resolve) =>
      options.signal.addEventListener("abort", resolve, { once: true })
    );
  }
  clearInterval(timer);
  commands.unsubscribe();
  await drainAll(conns, options.onError);
  commands.close();
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
