/**
 * Entry point of the device program (`vend-edge`): starts the agent from a configuration file
 * and the environment, and runs until SIGINT/SIGTERM.
 *
 * ```
 * vend-edge --config /etc/vendstream/agent.json [--simulate [--seed N] [--world clean|hard]
 *           [--new-product SKU:APPEARANCE_SEED]...] [--auto-sessions SECONDS
 *           [--auto-sessions-max N]] [--remote-camera DEVICE/CAMERA/FPS]...
 * ```
 *
 * `--simulate` adds a simulated shopper who opens the simulated door after each unlock (and,
 * when no recognition model is configured, a ground-truth cart decider: both simulations, for
 * the demo and the tests); `--seed` seeds its first scenario and `--world hard` gives its shoppers
 * a world harder than the training set (edge/sim/simulated_world.ts); `--new-product` gives the
 * simulated world a product no catalogue has, its look drawn from the appearance seed
 * (edge/sim/new_product.ts), for a planogram to stock; `--auto-sessions` also unlocks the door
 * by itself every SECONDS (at most N times with `--auto-sessions-max`: a device emulated on
 * another architecture has no time to spare for more). Prints `ready: DEVICE` on stdout once
 * running.
 * `VEND_FAULT` (`after_outbox_write:N`, `after_publish:N`, `update:PHASE`) kills the process at
 * that point, for fault tests (see edge/testing/fault_hooks.ts).
 *
 * @example
 * ```sh
 * deno run -A edge/main.ts --config agent.json --simulate
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Agent, type AgentOptions, type RemoteCamera } from "./agent/mod.ts";
import { ConfigError, loadAgentConfig } from "./config/mod.ts";

import { SWITCH_EXIT_CODE } from "./updates/mod.ts";
import {
  GroundTruthCartDecider,
  linkScene,
  newProduct,
  SimulatedHardware,
  SimulatedScene,
  SimulatedShopper,
  simulatedWorld,
} from "./sim/mod.ts";
import { provisionDevice, readIdentity } from "./provisioning/mod.ts";
import { onShutdown } from "../runtime/mod.ts";
import type { Product } from "../pipeline/mod.ts";
import { faultHooks, type FaultSpec, parseFaultSpec } from "./testing/mod.ts";

function faultSpecFrom(value: string | undefined): FaultSpec | undefined {
  try {
    return parseFaultSpec(value);
  } catch (e) {
    if (e instanceof RangeError) throw new ConfigError("VEND_FAULT", [e.message], { cause: e });
    throw e;
  }
}

function parseRemote(spec: string): RemoteCamera {
  const m = /^([a-z0-9][a-z0-9-]{0,62})\/([a-z0-9][a-z0-9-]{0,31})\/(\d{1,3})$/.exec(spec);
  if (!m) {
    throw new ConfigError("--remote-camera", [
      `--remote-camera: expected DEVICE/CAMERA/FPS, got ${JSON.stringify(spec)}`,
    ]);
  }
  return { deviceId: m[1]!, cameraId: m[2]!, fps: Number(m[3]) };
}

function parseNewProduct(spec: string): Product {
  const m = /^([A-Z0-9][A-Z0-9-]{0,31}):(\d{1,9})$/.exec(spec);
  if (!m) {
    throw new ConfigError("--new-product", [
      `--new-product: expected SKU:APPEARANCE_SEED, got ${JSON.stringify(spec)}`,
    ]);
  }
  return newProduct(Number(m[2]), { sku: m[1]! });
}

/**
 * First boot of a device with `provisioning` in its configuration: claims its identity before
 * the agent starts (the configuration is validated afterwards, with the identity in it).
 */
async function provisionIfNeeded(file: string | undefined, signal: AbortSignal): Promise<void> {
  if (!file) return;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await Deno.readTextFile(file));
  } catch {
    // Unreadable or not JSON: loadAgentConfig, next, reads the same file and reports why (a
    // ConfigError, exit code 2).
    return;
  }
  const p = raw?.provisioning as
    | { batchId?: string; serial?: string; claimCredentialsFile?: string }
    | undefined;
  const dataDir = Deno.env.get("VEND_DATA_DIR") ?? raw?.dataDir;
  if (!p || typeof dataDir !== "string" || await readIdentity(dataDir)) return;
  const servers = Deno.env.get("NATS_URL")?.split(",").map((s) => s.trim()) ??
    (raw.nats as { servers?: string[] } | undefined)?.servers ?? [];
  if (!p.batchId || !p.serial || !p.claimCredentialsFile || servers.length === 0) return;
  const caFile = Deno.env.get("NATS_CA") ?? (raw.nats as { caFile?: string } | undefined)?.caFile;
  const identity = await provisionDevice({
    servers,
    ...(caFile ? { caFile } : {}),
    claimCredentialsFile: p.claimCredentialsFile,
    batchId: p.batchId,
    serial: p.serial,
    dir: dataDir,
    signal,
  });
  console.error(`vend-edge: provisioned as ${identity.deviceId} (${identity.machineId})`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string" },
      simulate: { type: "boolean", default: false },
      "auto-sessions": { type: "string" },
      "auto-sessions-max": { type: "string" },
      "remote-camera": { type: "string", multiple: true },
      seed: { type: "string" },
      world: { type: "string" },
      "new-product": { type: "string", multiple: true },
    },
    strict: true,
  });
  // SIGINT/SIGTERM (or, under `./vend demo`, the parent's end) stop the program at any point of
  // its life: provisioning, connecting, a door session or an update. An update that switched
  // slots stops it too, to be started again from the new slot.
  const switched = new AbortController();
  const stop = { signal: AbortSignal.any([onShutdown(), switched.signal]) };
  const configFile = values.config ?? Deno.env.get("VEND_AGENT_CONFIG");
  try {
    await provisionIfNeeded(configFile, stop.signal);
  } catch (e) {
    if (stop.signal.aborted) return 0;
    throw e;
  }
  const config = await loadAgentConfig(configFile);
  const options: { -readonly [K in keyof AgentOptions]: AgentOptions[K] } = {
    remoteCameras: (values["remote-camera"] ?? []).map(parseRemote),
  };
  const fault = faultSpecFrom(Deno.env.get("VEND_FAULT"));
  if (fault) options.hooks = faultHooks(fault);
  options.args = Deno.args;
  // An update switched slots: stop cleanly and let the supervisor start the new slot.
  let switching = false;
  options.onRestartRequested = () => {
    switching = true;
    switched.abort(new Error("an update switched slots"));
  };
  let shopper: SimulatedShopper | undefined;
  let hardware: SimulatedHardware | undefined;
  let sceneLink: AsyncDisposable | undefined;
  if (values.simulate) {
    const scene = new SimulatedScene({
      machineId: config.machineId,
      seed: Number(values.seed ?? "1"),
      ...simulatedWorld(values.world ?? "clean"),
      products: (values["new-product"] ?? []).map(parseNewProduct),
    });
    hardware = new SimulatedHardware();
    options.hardware = hardware;
    options.scene = scene;
    // Without a model the simulated cabinet reports its ground truth (named as such).
    if (!config.recognition.model) options.cartDecider = new GroundTruthCartDecider(scene);
    shopper = new SimulatedShopper(hardware, scene);
    // The cabinet's two devices film one scene: the primary announces, the secondary follows.
    try {
      sceneLink = await linkScene(scene, {
        signal: stop.signal,
        servers: config.nats.servers,
        ...(config.nats.credentialsFile ? { credentialsFile: config.nats.credentialsFile } : {}),
        ...(config.nats.caFile ? { caFile: config.nats.caFile } : {}),
        region: config.region,
        role: config.role,
        deviceId: config.deviceId,
        ...(config.primaryDeviceId ? { primaryDeviceId: config.primaryDeviceId } : {}),
        log: (level, msg, fields) =>
          console.error(JSON.stringify({
            ts: new Date().toISOString(),
            level,
            device: config.deviceId,
            msg,
            ...fields,
          })),
      });
    } catch (e) {
      if (stop.signal.aborted) return 0; // stopped while waiting for the servers
      throw e;
    }
  }
  const agent = await Agent.start(config, options);
  const running: Promise<unknown>[] = [];
  if (shopper) running.push(shopper.run(stop.signal));
  const every = Number(values["auto-sessions"] ?? "0");
  const most = Number(values["auto-sessions-max"] ?? "Infinity");
  if (!(most >= 1)) {
    throw new ConfigError("--auto-sessions-max", [
      `--auto-sessions-max: expected a number from 1, got ${
        JSON.stringify(values["auto-sessions-max"])
      }`,
    ]);
  }
  if (every > 0 && hardware) {
    let unlocks = 0;
    const timer = setInterval(() => {
      if (hardware.door.state !== "closed") return;
      if (++unlocks >= most) clearInterval(timer);
      hardware.lock.unlock(config.unlockMs).catch((e) =>
        agent.log("warn", "automatic unlock failed", { error: String(e) })
      );
    }, every * 1000);
    stop.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  }
  console.log(`ready: ${config.deviceId}`);
  // A signal that came while the agent was starting (loading its model, connecting) has
  // aborted already: waiting for the event then would wait forever.
  if (!stop.signal.aborted) {
    await new Promise((resolve) => stop.signal.addEventListener("abort", resolve, { once: true }));
  }
  await agent.stop();
  const t0 = performance.now();
  await Promise.allSettled(running);
  await sceneLink?.[Symbol.asyncDispose]();
  const ms = Math.round(performance.now() - t0);
  if (ms >= 1000) {
    agent.log("warn", "a step of the stop was slow", { step: "simulation", ms });
  }
  return switching ? SWITCH_EXIT_CODE : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `vend-edge: ${(e as Error).message}`);
    Deno.exit(e instanceof ConfigError ? 2 : 1);
  }
}
