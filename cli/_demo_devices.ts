/**
 * The demo's devices: each machine a primary and a secondary agent process, provisioned by claim
 * on first boot (as in the field) or configured by hand on an external server.
 *
 * @module
 */
import { abortable, writePrivateFile } from "../runtime/mod.ts";
import type { TrustedKey } from "../protocol/mod.ts";
import type { DemoApi } from "./_demo_api.ts";
import { readUntil } from "./_demo_processes.ts";
import { type DemoContext, removeIfPresent } from "./_demo_topology.ts";
import { ROOT } from "./_repo_root.ts";
import type { WorldName } from "../edge/sim/mod.ts";

/** The machines the demo runs, and how their devices are set up. */
export interface DemoMachines {
  /** The machines' ids (`m001`, `m002`, …). */
  readonly ids: string[];
  /** Each machine's home region. */
  readonly homeOf: (machineId: string) => string;
  /** The API, as the demo's admin. */
  readonly api: DemoApi;
  /** The key that signs the cloud's commands (for devices configured by hand). */
  readonly commandKey: TrustedKey;
  /** Every camera's frame size and rate. Default 320x240 at 5 fps. */
  readonly cameras?: CameraSettings;
  /** The seed each machine's simulated scene starts from. Default 1000 times its number. */
  readonly seedOf?: (machineId: string) => number;
  /** The folder of the devices' data. Default `<VEND_DATA_DIR>/agents`. */
  readonly dataRoot?: string;
  /** The model folder primaries decide carts with. Default the trained default, if there is one. */
  readonly model?: string;
  /** The world the simulated cabinets film (edge/sim/simulated_world.ts). Default `clean`. */
  readonly world?: WorldName;
  /**
   * Products the simulated worlds hold that no catalogue has, as `SKU:APPEARANCE_SEED` (the
   * agents' `--new-product`). Default none.
   */
  readonly newProducts?: readonly string[];
  /** More of each agent's configuration (e.g. `recording`, `ota`), by role. Default none. */
  readonly configure?: (role: Role) => Record<string, unknown>;
}

/** A camera's frame size and rate. */
export interface CameraSettings {
  /** Width, px. */
  readonly width: number;
  /** Height, px. */
  readonly height: number;
  /** Frames a second. */
  readonly fps: number;
}

/** The demo's cameras: small and slow, so a demo of several machines fits a laptop. */
const DEMO_CAMERAS: CameraSettings = { width: 320, height: 240, fps: 5 };

type Role = "primary" | "secondary";
type Claim = { batchId: string; file: string };

/**
 * A batch per region with its devices' serials, and its claim credential written for them to
 * ship with. None without accounts (an external server).
 */
async function provisionClaims(
  ctx: DemoContext,
  machines: DemoMachines,
  dataRoot: string,
): Promise<Map<string, Claim>> {
  const { ids, homeOf, api } = machines;
  const claims = new Map<string, Claim>();
  for (const region of ctx.nats.accounts ? ctx.regions : []) {
    const batchId = `demo-${region}-${Date.now().toString(36)}`;
    const batch = await api.call("/batches", {
      batchId,
      region,
      devices: ids.filter((id) => homeOf(id) === region).flatMap((machineId) =>
        (["primary", "secondary"] as const).map((role) => {
          const deviceId = `${machineId}-${role === "primary" ? "a" : "b"}`;
          return { serial: `SN-${deviceId}`, deviceId, machineId, role };
        })
      ),
    });
    await Deno.mkdir(dataRoot, { recursive: true });
    const claim = { batchId, file: `${dataRoot}/claim-${region}.creds` };
    await writePrivateFile(claim.file, batch.claimCredentials);
    claims.set(region, claim);
  }
  return claims;
}

/** What one device's agent.json says. */
function agentConfig(ctx: DemoContext, device: {
  deviceId: string;
  machineId: string;
  role: Role;
  home: string;
  claim: Claim | undefined;
  dataDir: string;
  model: string | undefined;
  commandKey: TrustedKey;
  cameras: CameraSettings;
}) {
  const { nats, supercluster, regions, regionUrl } = ctx;
  const { deviceId, machineId, role, home, claim, dataDir, model, commandKey } = device;
  const { width, height, fps } = device.cameras;
  return {
    // With a claim the identity (id, machine, role, credentials, command key) comes from
    // provisioning; on an external server without one, the device is configured by hand.
    ...(claim
      ? {
        provisioning: {
          batchId: claim.batchId,
          serial: `SN-${deviceId}`,
          claimCredentialsFile: claim.file,
        },
      }
      : {
        deviceId,
        machineId,
        role,
        ...(role === "secondary" ? { primaryDeviceId: `${machineId}-a` } : {}),
        commands: { trustedKeys: [commandKey] },
      }),
    ...(claim ? {} : { region: home }),
    nats: {
      servers: regionUrl(home).split(","),
      // Its region's servers first; the other regions' when its own is down.
      ...(supercluster
        ? {
          failover: regions.filter((r) => r !== home).flatMap((r) => regionUrl(r).split(",")),
        }
        : {}),
      ...(nats.caFile ? { caFile: nats.caFile } : {}),
    },
    dataDir,
    heartbeatIntervalMs: 2000,
    telemetryIntervalMs: 5000,
    cameras: (role === "primary" ? ["cam-1", "cam-2"] : ["cam-3"]).map((cameraId) => ({
      cameraId,
      source: { kind: "synthetic" },
      width,
      height,
      fps,
    })),
    // The primary decides carts with the default model (./vend trains it).
    ...(role === "primary" && model ? { recognition: { model } } : {}),
  };
}

/** Starts the agent of `config`, simulated with `seed`, and waits until it is ready. */
async function startAgent(
  ctx: DemoContext,
  config: { dataDir: string },
  agent: {
    deviceId: string;
    machineId: string;
    role: Role;
    seed: number;
    fps: number;
    world: WorldName;
    newProducts: readonly string[];
  },
): Promise<void> {
  const args = [
    "run",
    "-A",
    "--frozen",
    `${ROOT}edge/main.ts`,
    "--config",
    `${config.dataDir}/agent.json`,
    "--simulate",
    "--seed",
    String(agent.seed),
    "--world",
    agent.world,
    ...agent.newProducts.flatMap((p) => ["--new-product", p]),
  ];
  if (agent.role === "primary") {
    args.push("--remote-camera", `${agent.machineId}-b/cam-3/${agent.fps}`);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args,
    // VEND_DATA_DIR (the demo's own) would override the agent's folder: four devices
    // would share one outbox.
    env: { VEND_EXIT_WITH_PARENT: "1", VEND_DATA_DIR: config.dataDir },
    stdin: "piped",
    stdout: "piped",
    stderr: Deno.env.get("VEND_DEMO_VERBOSE") ? "inherit" : "null",
  }).spawn();
  ctx.children.add(child);
  if (
    (await abortable(readUntil(child.stdout, "ready:"), { signal: ctx.shutdown })) === undefined
  ) {
    throw new Error(`agent ${agent.deviceId} exited before it was ready`);
  }
}

/**
 * Provisions the machines' devices and starts their agents in turn (a machine's primary, then
 * its secondary), each waited for until it is ready. The devices provision themselves by claim
 * on first boot, as in the field: a batch with their serials, and its claim credential shipped
 * with each. A device that has an identity from an earlier run keeps it.
 */
export async function startDevices(ctx: DemoContext, machines: DemoMachines): Promise<void> {
  const { ids, homeOf } = machines;
  const cameras = machines.cameras ?? DEMO_CAMERAS;
  const dataRoot = machines.dataRoot ??
    `${Deno.env.get("VEND_DATA_DIR") ?? `${Deno.env.get("HOME")}/.local/share/vendstream`}/agents`;
  const model = machines.model ?? await Deno.stat(`${ROOT}models/build/default/model.json`)
    .then(() => `${ROOT}models/build/default`, () => undefined);
  const claims = await provisionClaims(ctx, machines, dataRoot);
  for (const machineId of ids) {
    const m = ids.indexOf(machineId) + 1;
    for (const role of ["primary", "secondary"] as const) {
      const deviceId = `${machineId}-${role === "primary" ? "a" : "b"}`;
      const dataDir = `${dataRoot}/${deviceId}`;
      const home = homeOf(machineId);
      const claim = claims.get(home);
      if (ctx.supercluster) {
        // Each run's supercluster is new: an identity from an earlier run is not in it.
        await removeIfPresent(dataDir);
      }
      await Deno.mkdir(dataDir, { recursive: true });
      const config = agentConfig(ctx, {
        deviceId,
        machineId,
        role,
        home,
        claim,
        dataDir,
        model,
        commandKey: machines.commandKey,
        cameras,
      });
      const written = { ...config, ...machines.configure?.(role) };
      await Deno.writeTextFile(`${config.dataDir}/agent.json`, JSON.stringify(written, null, 2));
      const seed = machines.seedOf?.(machineId) ?? m * 1000;
      await startAgent(ctx, config, {
        deviceId,
        machineId,
        role,
        seed,
        fps: cameras.fps,
        world: machines.world ?? "clean",
        newProducts: machines.newProducts ?? [],
      });
    }
  }
}
