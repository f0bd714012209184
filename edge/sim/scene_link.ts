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
import {
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { deviceInboxPrefix, subjects } from "../../protocol/mod.ts";
import { abortable, drainWithin, sleep } from "../../runtime/mod.ts";
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
  /** Stops waiting for the servers (the link is not made then). */
  readonly signal?: AbortSignal;
  /** Log sink (a subscription the server refuses). Default: none. */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** Pause between tries while no server answers, ms. */
const RETRY_MS = 500;

/**
 * Connects, trying again while no server answers, until `signal` aborts (then it throws the
 * signal's reason, with the last connection error as the cause when there was one).
 */
async function connectUntil(
  options: ConnectionOptions,
  signal: AbortSignal | undefined,
): Promise<NatsConnection> {
  let last: unknown;
  while (!signal?.aborted) {
    try {
      // A stop does not wait for the attempt in flight; a late connection is closed.
      return await abortable(connect(options), {
        ...(signal ? { signal } : {}),
        onLate: (nc) => nc.close(),
      });
    } catch (e) {
      if (signal?.aborted) break;
      last = e;
      await sleep(RETRY_MS, signal ? { signal } : {});
    }
  }
  const reason = signal?.reason instanceof Error
    ? signal.reason
    : new Error("the link was stopped");
  throw new Error(`The scene link stopped before a server answered: ${reason.message}`, {
    cause: last ?? reason,
  });
}

/**
 * Links `scene` to the cabinet's other device over NATS until disposed. Resolves once a server
 * answered (trying again while none does); an aborted `signal` stops the wait.
 */
export async function linkScene(
  scene: SimulatedScene,
  options: SceneLinkOptions,
): Promise<AsyncDisposable> {
  const primary = options.role === "primary" ? options.deviceId : options.primaryDeviceId;
  if (!primary) throw new TypeError("A secondary device's scene link needs primaryDeviceId");
  const credsFile = options.credentialsFile;
  const creds = credsFile ? () => Deno.readFileSync(credsFile) : undefined;
  const nc = await connectUntil({
    servers: [...options.servers],
    name: `${options.deviceId}-scene`,
    // Once linked, reconnects go on for as long as the link lives.
    maxReconnectAttempts: -1,
    timeout: 2000,
    inboxPrefix: deviceInboxPrefix(options.deviceId),
    ...(options.caFile ? { tls: { caFile: options.caFile } } : {}),
    ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
  }, options.signal);
  const subject = subjects.simulatedScene({ region: options.region, deviceId: primary });
  let stop: () => void;
  if (options.role === "primary") {
    stop = scene.onSession((s) => nc.publish(subject, JSON.stringify(s)));
  } else {
    const sub = nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) {
          // The server refused the subscription (credentials without the subject).
          options.log?.("error", "scene link subscription refused", { error: err.message });
          return;
        }
        try {
          scene.follow(m.json<SceneState>());
        } catch (e) {
          // Not JSON (SyntaxError) or not a scene state (TypeError): ignored, the next one counts.
          if (!(e instanceof SyntaxError || e instanceof TypeError)) throw e;
        }
      },
    });
    stop = () => sub.unsubscribe();
  }
  await nc.flush();
  return {
    async [Symbol.asyncDispose]() {
      stop();
      await drainWithin(nc, { timeoutMs: 2000 });
    },
  };
}
