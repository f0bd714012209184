/**
 * Helpers for tests of the edge agent against a real nats-server: configs, reading a device's
 * events back from its stream, and checking they are exactly once and in order.
 *
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Agent, type AgentConfig, parseAgentConfig } from "../edge/mod.ts";
import {
  GroundTruthCartDecider,
  SimulatedHardware,
  SimulatedScene,
  SimulatedShopper,
  standardSlots,
  type WorldDeviations,
} from "../edge/sim/mod.ts";
import type { CloudService } from "../cloud/mod.ts";
import { openKv } from "../cloud/nats/mod.ts";
import { DEFAULT_PRODUCTS } from "../pipeline/mod.ts";
import {
  bucketIn,
  buckets,
  type DeploymentEvent,
  filters,
  newEnvelope,
  parseDeploymentEvent,
  parsePipelineEvent,
  parseShadow,
  type PipelineEvent,
  shadow,
  shadowKey,
  type ShadowState,
  type SlotAssignment,
  streamName,
} from "../protocol/mod.ts";
import { type ApiAnswer, ROOT, type TestNats } from "./harness.ts";

/**
 * Where a test's agent connects: a test server (the agent gets its own device credentials
 * from it) or a bare URL (an open server).
 */
export type AgentNats = TestNats | string;

async function withCredentials(
  nats: AgentNats,
  raw: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  if (typeof nats === "string") return raw;
  const natsConfig = (raw.nats ?? {}) as Record<string, unknown>;
  if (natsConfig.credentialsFile) return raw; // the test chose the device's credentials
  const credentialsFile = await nats.deviceCredentials({
    deviceId: raw.deviceId as string,
    ...(typeof raw.region === "string" ? { region: raw.region } : {}),
  });
  const key = await nats.commandKey();
  return {
    // The device pins the cloud's command key, as provisioning does.
    commands: { trustedKeys: [key.trusted] },
    ...raw,
    nats: { servers: [nats.url], caFile: nats.caFile, ...natsConfig, credentialsFile },
  };
}

/**
 * A primary device's config for tests, on `nats`, storing under a new temporary folder; on a
 * test server the device connects with its own credentials.
 */
export async function testAgentConfig(
  nats: AgentNats,
  overrides: Record<string, unknown> = {},
): Promise<AgentConfig> {
  const dataDir = await Deno.makeTempDir({ prefix: "vend-agent-" });
  return parseAgentConfig(
    await withCredentials(nats, {
      deviceId: "m001-a",
      machineId: "m001",
      role: "primary",
      nats: { servers: [typeof nats === "string" ? nats : nats.url] },
      dataDir,
      heartbeatIntervalMs: 200,
      telemetryIntervalMs: 500,
      cameras: [],
      // Recording has its own tests; the others need no encoder.
      recording: { enabled: false },
      ...overrides,
    }),
  );
}

/**
 * Writes a primary device's config file (m001-a on `url`, data under `dir/data`) for tests that
 * run the agent as a process; returns its path.
 */
export async function writeAgentConfigFile(
  dir: string,
  nats: AgentNats,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const path = `${dir}/agent.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify(
      await withCredentials(nats, {
        deviceId: "m001-a",
        machineId: "m001",
        role: "primary",
        nats: { servers: [typeof nats === "string" ? nats : nats.url] },
        dataDir: `${dir}/data`,
        ...extra,
      }),
    ),
  );
  return path;
}

/** Every pipeline event of `deviceId` in its region's EVENTS stream, in stream order. */
export async function streamEvents(nc: NatsConnection, deviceId: string): Promise<PipelineEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamName("EVENTS", "local")).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(streamName("EVENTS", "local"), {
    filter_subjects: filters.pipelineEvents({ region: "local", deviceId }),
  });
  const out: PipelineEvent[] = [];
  const messages = await consumer.fetch({ max_messages: 10_000, expires: 1000 });
  for await (const m of messages) {
    const e = parsePipelineEvent(m.data);
    if (!e.ok) throw e.error;
    out.push(e.value);
    if (m.info.pending === 0) break;
  }
  return out;
}

/**
 * Checks that events are exactly once (unique ids) and in order: per session, door_opened,
 * door_closed, session_completed, consecutively; sessions one after another. Returns the
 * session ids, and throws describing the first violation.
 */
export function assertSessionsInOrder(events: readonly PipelineEvent[]): string[] {
  const ids = new Set<string>();
  for (const e of events) {
    if (ids.has(e.id)) throw new Error(`event ${e.id} (${e.type}) is in the stream twice`);
    ids.add(e.id);
  }
  const sessions: string[] = [];
  const expected = ["door_opened", "door_closed", "session_completed"];
  for (let i = 0; i < events.length; i += 3) {
    const group = events.slice(i, i + 3);
    const sid = (group[0] as { sessionId?: string }).sessionId;
    group.forEach((e, k) => {
      if (e.type !== expected[k] || (e as { sessionId?: string }).sessionId !== sid) {
        throw new Error(
          `event ${i + k}: ${e.type} of ${(e as { sessionId?: string }).sessionId}, expected ${
            expected[k]
          } of ${sid}`,
        );
      }
    });
    sessions.push(sid!);
  }
  return sessions;
}

/** Waits until `check` returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** A device's update progress event. */
export type UpdateProgress = Extract<DeploymentEvent, { type: "update_progress" }>;

/** Every update progress event in the local region's UPDATES stream, in stream order. */
export async function updateEvents(nc: NatsConnection): Promise<UpdateProgress[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamName("UPDATES", "local"));
  if (info.state.messages === 0) return [];
  const c = await jetstream(nc).consumers.get(streamName("UPDATES", "local"), {
    filter_subjects: filters.updateProgress({ region: "local" }),
  });
  const out: UpdateProgress[] = [];
  for await (const m of await c.fetch({ max_messages: 1000, expires: 1000 })) {
    const e = parseDeploymentEvent(m.data);
    if (e.ok && e.value.type === "update_progress") out.push(e.value);
    if (m.info.pending === 0) break;
  }
  return out;
}

/**
 * Puts a deployment into a device's desired shadow, as the cloud's deployment service does;
 * `version` is the desired document's version (each call a higher one).
 */
export async function desireDeployment(
  nc: NatsConnection,
  deviceId: string,
  order: {
    version: number;
    deploymentId: string;
    targets: Array<{ component: string; version: string; mode?: "live" | "shadow" | "stop" }>;
  },
): Promise<void> {
  await putDesired(nc, deviceId, order.version, {
    deployment: { deploymentId: order.deploymentId, targets: order.targets },
  });
}

/** Writes a device's desired shadow at `version` with `state`, as the cloud would. */
async function putDesired(
  nc: NatsConnection,
  deviceId: string,
  version: number,
  state: ShadowState,
): Promise<void> {
  const kv = await new Kvm(nc).create(bucketIn(buckets.shadow, "local"), { history: 5 });
  await kv.put(
    shadowKey(deviceId, "desired"),
    shadow.encode({
      ...newEnvelope(),
      deviceId,
      kind: "desired",
      version,
      state,
      updatedBy: "test",
    }),
  );
}

/**
 * Puts the standard planogram into a device's desired shadow, as the cloud's planogram push
 * does (for tests without a cloud service), and waits until the device decides by it.
 */
export async function desirePlanogram(
  nc: NatsConnection,
  deviceId: string,
  options: { readonly version?: number; readonly slots?: readonly SlotAssignment[] } = {},
): Promise<void> {
  const version = options.version ?? 1;
  await putDesired(nc, deviceId, version, {
    planogram: { version, slots: (options.slots ?? STANDARD_SLOTS).map((s) => ({ ...s })) },
  });
  await eventually(
    async () => ((await planogramInUse({ nc }, deviceId)) >= version ? true : undefined),
    30_000,
    `${deviceId} deciding by planogram version ${version}`,
  );
}

/** A simulated cabinet run by a real agent (m001-a) with a simulated shopper. */
export interface SimulatedCabinet extends AsyncDisposable {
  readonly hardware: SimulatedHardware;
  readonly scene: SimulatedScene;
  readonly agent: Agent;
}

/** A small synthetic camera (cam-1, 160x120 at 5 fps): cheap enough for any test. */
export const SMALL_CAMERA = {
  cameraId: "cam-1",
  source: { kind: "synthetic" },
  width: 160,
  height: 120,
  fps: 5,
} as const;

/** The two cameras of the primary (cam-1 and cam-2) at the demo's 320x240 and 5 fps. */
export const PRIMARY_CAMERAS = ["cam-1", "cam-2"].map((cameraId) => ({
  ...SMALL_CAMERA,
  cameraId,
  width: 320,
  height: 240,
}));

/**
 * Starts a real agent for machine m001 on `url` filming a synthetic cabinet, and a shopper who
 * opens the door whenever it is unlocked; resolves once the cloud `isOnline` says the device
 * is. By default one 160x120 camera at 5 fps and the cart taken from the simulation's ground
 * truth (`GroundTruthCartDecider`, for tests about something else than recognition); with
 * `recognizer: "model"` the cart is decided by the trained default model from cam-1 and cam-2 at
 * 320x240, as on a device. Disposal (once, however often it is called) stops the shopper, then
 * the agent.
 */
export async function simulatedCabinet(
  url: AgentNats,
  options: {
    readonly seed?: number;
    /** Who decides the cart. Default `"ground-truth"`. */
    readonly recognizer?: "ground-truth" | "model";
    readonly config?: Record<string, unknown>;
    readonly isOnline?: () => boolean;
    /** How the simulated world strays from the machine's planogram. Default: not at all. */
    readonly deviations?: WorldDeviations;
    /** The agent's log (default: none). */
    readonly log?: (line: Record<string, unknown>) => void;
  } = {},
): Promise<SimulatedCabinet> {
  const hardware = new SimulatedHardware();
  const scene = new SimulatedScene({
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.deviations ? { deviations: options.deviations } : {}),
  });
  const model = options.recognizer === "model";
  const config = await testAgentConfig(url, {
    cameras: model ? PRIMARY_CAMERAS : [SMALL_CAMERA],
    ...(model ? { recognition: { model: `${ROOT}models/build/default` } } : {}),
    ...options.config,
  });
  const agent = await Agent.start(config, {
    hardware,
    scene,
    ...(model ? {} : { cartDecider: new GroundTruthCartDecider(scene) }),
    log: options.log ?? (() => {}),
  });
  const stop = new AbortController();
  const shopping = new SimulatedShopper(hardware, scene).run(stop.signal);
  let disposing: Promise<void> | undefined;
  const dispose = () =>
    disposing ??= (async () => {
      stop.abort();
      await shopping;
      await agent[Symbol.asyncDispose]();
    })();
  if (options.isOnline) {
    const isOnline = options.isOnline;
    await eventually(() => (isOnline() ? true : undefined), 5000, "the agent online").catch(
      async (e) => {
        await dispose();
        throw e;
      },
    );
  }
  return { hardware, scene, agent, [Symbol.asyncDispose]: dispose };
}

/** The standard cabinet's planogram: 3 shelves of 4 slots, the catalogue's 12 SKUs in order, par 4. */
export const STANDARD_SLOTS: readonly SlotAssignment[] = standardSlots();

/** The planogram version `deviceId` reports it decides by (0: none), from its shadow. */
export async function planogramInUse(
  svc: { readonly nc: NatsConnection },
  deviceId: string,
): Promise<number> {
  const kv = await openKv(svc.nc, buckets.shadow, { history: 5 });
  const e = await kv.get(shadowKey(deviceId, "reported"));
  const parsed = e?.operation === "PUT" && e.value.length ? parseShadow(e.value) : undefined;
  return parsed?.ok && parsed.value.kind === "reported"
    ? parsed.value.state.planogram?.version ?? 0
    : 0;
}

/** Waits until `deviceId` (default `m001-a`) reports which slots its cameras see (12 of them). */
export async function calibrationReported(
  api: (method: string, path: string) => Promise<ApiAnswer>,
  deviceId = "m001-a",
): Promise<void> {
  await eventually(
    async () => {
      const s = await api("GET", `/devices/${deviceId}/shadow`);
      return s.body.reported?.state?.calibration?.length === 12 ? true : undefined;
    },
    20_000,
    `${deviceId}'s calibration`,
  );
}

/**
 * Writes `slots` (default {@link STANDARD_SLOTS}) as the machine's planogram, as an operator
 * would, and waits until its primary decides by it (the simulated restocker has stocked it);
 * returns the version.
 */
export async function usePlanogram(
  svc: Pick<CloudService, "nc" | "planograms">,
  options: {
    readonly machineId?: string;
    readonly deviceId?: string;
    readonly slots?: readonly SlotAssignment[];
  } = {},
): Promise<number> {
  const machineId = options.machineId ?? "m001";
  const deviceId = options.deviceId ?? `${machineId}-a`;
  const { version } = await svc.planograms.put(machineId, {
    slots: options.slots ?? STANDARD_SLOTS,
  }, { by: "test operator", skus: new Set(DEFAULT_PRODUCTS.map((p) => p.sku)) });
  await eventually(
    async () => ((await planogramInUse(svc, deviceId)) >= version ? true : undefined),
    30_000,
    `${deviceId} deciding by planogram version ${version}`,
  );
  return version;
}
