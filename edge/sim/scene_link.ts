/**
 * Keeps the cameras of a simulated cabinet on one scene: the primary announces each scenario its
 * shopper starts, the secondary films the same one. Without it the secondary's camera would film
 * its own, unchanging shelves and contradict the primary's cameras. Simulation only (`--simulate`).
 *
 * @example
 * ```ts
 * import { SimulatedScene } from "./simulated_machine.ts";
 * import { linkScene } from "./scene_link.ts";
 *
 * const scene = new SimulatedScene({ machineId: "m001" });
 * await using _link = await linkScene(scene, {
 *   servers: ["nats://127.0.0.1:4222"],
 *   region: "local",
 *   role: "secondary",
 *   deviceId: "m001-b",
 *   primaryDeviceId: "m001-a",
 * });
 * ```
 *
 * @module
 */
import { credsAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { deviceInboxPrefix, subjects } from "../../protocol/mod.ts";
import type { SceneState, SimulatedScene } from "./simulated_machine.ts";

/** Where a device is and whom it follows. */
export interface SceneLinkOptions {
  /** NATS servers. */
  readonly servers: readonly string[];
  /** A NATS credentials file, when the server wants one. */
  readonly credentialsFile?: string;
  /** The CA of the servers' certificates (TLS). */
  readonly caFile?: string;
  /** The device's region. */
  readonly region: string;
  /** Primary announces, secondary follows. */
  readonly role: "primary" | "secondary";
  /** This device. */
  readonly deviceId: string;
  /** The primary (for a secondary). */
  readonly primaryDeviceId?: string;
}

/** Links `scene` to the cabinet's other device over NATS until disposed. */
export async function linkScene(
  scene: SimulatedScene,
  options: SceneLinkOptions,
): Promise<AsyncDisposable> {
  const primary = options.role === "primary" ? options.deviceId : options.primaryDeviceId;
  if (!primary) throw new TypeError("A secondary device's scene link needs primaryDeviceId");
  const credsFile = options.credentialsFile;
  const creds = credsFile ? () => Deno.readFileSync(credsFile) : undefined;
  const nc = await connect({
    servers: [...options.servers],
    name: `${options.deviceId}-scene`,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    inboxPrefix: deviceInboxPrefix(options.deviceId),
    ...(options.caFile ? { tls: { caFile: options.caFile } } : {}),
    ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
  });
  const subject = subjects.simulatedScene({ region: options.region, deviceId: primary });
  let stop: () => void;
  if (options.role === "primary") {
    stop = scene.onSession((s) => nc.publish(subject, JSON.stringify(s)));
  } else {
    const sub = nc.subscribe(subject, {
      callback: (_e, m) => {
        try {
          scene.follow(m.json<SceneState>());
        } catch { /* not a scene state: ignored */ }
      },
    });
    stop = () => sub.unsubscribe();
  }
  await nc.flush();
  return {
    async [Symbol.asyncDispose]() {
      stop();
      await nc.drain().catch(() => nc.close());
    },
  };
}
