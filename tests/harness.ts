/**
 * Shared test harness: a real nats-server per test (or per file), started through the same
 * module as the demo's, in a temporary folder on a random port, torn down even when the test
 * fails (`await using`).
 *
 * @example
 * ```ts
 * import { startTestNats } from "./harness.ts";
 *
 * Deno.test("something over NATS", async () => {
 *   await using nats = await startTestNats();
 *   await using nc = await nats.connect();
 * });
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { serveSessionStatus } from "../cloud/checkout/mod.ts";
import { serveObjectCommits } from "../cloud/fleet/mod.ts";
import { connectNats } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import {
  auditNatsRefusals,
  type DeviceGrant,
  loadCommandKey,
  simulatorPermissions,
} from "../cloud/provisioning/mod.ts";
import {
  type LocalNats,
  type LocalSupercluster,
  startLocalNats,
  startLocalSupercluster,
} from "../cloud/dev/mod.ts";
import { Kvm } from "@nats-io/kv";
import { jetstream } from "@nats-io/jetstream";
import {
  type AuditEntry,
  buckets,
  deviceInboxPrefix,
  parseAuditEntry,
  type SigningKey,
  streamName,
} from "../protocol/mod.ts";

/** A test's nats-server: its URL, a way to connect, and disposal that removes everything. */
export interface TestNats extends AsyncDisposable {
  /** Client URL. */
  readonly url: string;
  /** The server process (a new one after {@link TestNats.start}). */
  readonly server: LocalNats;
  /** Stops the server (a fault: clients see the connection drop). */
  stop(): Promise<void>;
  /** Starts the server again on the same port, data and accounts. */
  start(): Promise<void>;
  /** The cloud's credentials file (a user of the cloud account, where JetStream lives). */
  readonly credentialsFile: string;
  /** The private CA that signed the server's certificate (the server serves TLS only). */
  readonly caFile: string;
  /** Connects a cloud-account client that is closed when the returned object is disposed. */
  connect(name?: string): Promise<NatsConnection & AsyncDisposable>;
  /**
   * Writes credentials of one device (its own subjects only) and returns the file's path;
   * `peers` defaults to the other device of its cabinet by the tests' naming (`m001-a` and
   * `m001-b`).
   */
  deviceCredentials(
    device: { deviceId: string; region?: string; peers?: string[] },
    options?: { expiresInS?: number },
  ): Promise<string>;
  /** Connects as one device (its credentials and inbox prefix); no reconnect unless asked. */
  connectDevice(
    device: { deviceId: string; region?: string; peers?: string[] },
    options?: { reconnect?: boolean },
  ): Promise<NatsConnection & AsyncDisposable>;
  /** Writes the fleet simulator's credentials (any device's subjects) and returns the path. */
  simulatorCredentials(): Promise<string>;
  /** The cloud's command signing key (devices pin its `trusted` part). */
  commandKey(): Promise<SigningKey>;
}

/** The other device of a test cabinet: `m001-a` <-> `m001-b`. */
export function cabinetPeer(deviceId: string): string[] {
  const m = /^(.*)-([ab])$/.exec(deviceId);
  return m ? [`${m[1]}-${m[2] === "a" ? "b" : "a"}`] : [];
}

/**
 * Starts a fresh nats-server with JetStream in a temporary folder; `sameAccountsAs` another
 * test server makes one system with it (the same operator and accounts, so one device's
 * credentials work on both).
 */
export async function startTestNats(
  options: { sameAccountsAs?: TestNats } = {},
): Promise<TestNats> {
  const dataDir = await Deno.makeTempDir({ prefix: "vend-test-nats-" });
  const authDir = options.sameAccountsAs?.server.accounts?.dir ?? `${dataDir}/auth`;
  let server: LocalNats;
  try {
    server = await startLocalNats({ dataDir, authDir });
  } catch (e) {
    await Deno.remove(dataDir, { recursive: true });
    throw e;
  }
  const clients: NatsConnection[] = [];
  // What the cloud provides devices even when a test runs no cloud service: the region's
  // streams and buckets (devices may not create any) and the commit of their uploads.
  const core = await connectNats(server, { name: "test-cloud-core", timeoutMs: 5000 });
  clients.push(core);
  await ensureStreams(core, "local");
  await serveObjectCommits(core);
  await serveSessionStatus(core, { region: "local" });
  // What the server refuses is audited (as cli/cloud.ts does for the server it runs).
  let stopAudit = auditNatsRefusals(server, core, { region: "local" });
  const accounts = server.accounts!;
  const credentialsFile = server.credentialsFile!;
  const caFile = server.caFile!;
  const deviceCredentials = async (
    device: { deviceId: string; region?: string; peers?: string[] },
    options: { expiresInS?: number } = {},
  ) => {
    const grant: DeviceGrant = {
      region: device.region ?? "local",
      deviceId: device.deviceId,
      peers: device.peers ?? cabinetPeer(device.deviceId),
    };
    const issued = await accounts.deviceCredentials(grant, options);
    const path = `${dataDir}/${device.deviceId}-${crypto.randomUUID().slice(0, 8)}.creds`;
    await Deno.writeFile(path, issued.creds!, { mode: 0o600 });
    return path;
  };
  const port = server.port;
  return {
    url: server.url,
    get server() {
      return server;
    },
    stop: () => server.stop(),
    async start() {
      server = await startLocalNats({ dataDir, port, authDir });
      if (server.port !== port) throw new Error(`Restarted NATS on ${server.port}, not ${port}`);
      stopAudit();
      stopAudit = auditNatsRefusals(server, core, { region: "local" });
    },
    credentialsFile,
    caFile,
    async connect(name = "test") {
      const nc = await connectNats(server, { name, timeoutMs: 5000 });
      clients.push(nc);
      return Object.assign(nc, { [Symbol.asyncDispose]: () => nc.close() });
    },
    deviceCredentials,
    async connectDevice(device, options = {}) {
      const nc = await connectNats(server.url, {
        name: device.deviceId,
        timeoutMs: 5000,
        credentialsFile: await deviceCredentials(device),
        caFile,
        inboxPrefix: deviceInboxPrefix(device.deviceId),
        reconnect: options.reconnect ?? false,
      });
      clients.push(nc);
      return Object.assign(nc, { [Symbol.asyncDispose]: () => nc.close() });
    },
    async commandKey() {
      const service = await new Kvm(core).create(buckets.service, { history: 1 });
      return await loadCommandKey(service);
    },
    async simulatorCredentials() {
      const issued = await accounts.userCredentials("devices", "fleet-simulator", {
        permissions: simulatorPermissions(),
      });
      const path = `${dataDir}/simulator.creds`;
      await Deno.writeFile(path, issued.creds!, { mode: 0o600 });
      return path;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((nc) => nc.close().catch(() => {})));
      await server.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** A test's supercluster (or single cluster): the servers, and ways to connect to a region. */
export interface TestCluster extends AsyncDisposable {
  /** The servers. */
  readonly sc: LocalSupercluster;
  /** Connects a cloud-account client to `region`'s servers (closed at disposal). */
  connect(region: string, name?: string): Promise<NatsConnection>;
  /**
   * Connects as one device of `device.region` to `urls` (default: its region's servers, then
   * every other region's), reconnecting forever.
   */
  connectDevice(
    device: { deviceId: string; region: string },
    options?: { urls?: string[] },
  ): Promise<NatsConnection>;
}

/** Starts a supercluster of `regions` (3 servers each) in a temporary folder. */
export async function startTestCluster(regions: string[]): Promise<TestCluster> {
  const dataDir = await Deno.makeTempDir({ prefix: "vend-test-cluster-" });
  let sc: LocalSupercluster;
  try {
    sc = await startLocalSupercluster({ dataDir, regions });
  } catch (e) {
    await Deno.remove(dataDir, { recursive: true });
    throw e;
  }
  const clients: NatsConnection[] = [];
  return {
    sc,
    async connect(region, name = "test") {
      const nc = await connectNats(sc.target(region), { name, timeoutMs: 10_000 });
      clients.push(nc);
      return nc;
    },
    async connectDevice(device, options = {}) {
      const issued = await sc.accounts!.deviceCredentials({
        region: device.region,
        deviceId: device.deviceId,
        peers: cabinetPeer(device.deviceId),
      });
      const creds = `${dataDir}/${device.deviceId}.creds`;
      await Deno.writeFile(creds, issued.creds!, { mode: 0o600 });
      const urls = options.urls ?? [
        sc.url(device.region),
        ...sc.plan.regions.filter((r) => r !== device.region).map((r) => sc.url(r)),
      ];
      const nc = await connectNats(urls.join(","), {
        name: device.deviceId,
        timeoutMs: 10_000,
        credentialsFile: creds,
        caFile: sc.caFile!,
        inboxPrefix: deviceInboxPrefix(device.deviceId),
      });
      clients.push(nc);
      return nc;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((nc) => nc.close().catch(() => {})));
      await sc.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** The environment that points a child process (cloud, CLI tools) at a test server as the cloud. */
export function natsEnv(
  nats: { url: string; credentialsFile?: string; caFile?: string },
): Record<string, string> {
  return {
    NATS_URL: nats.url,
    ...(nats.credentialsFile ? { NATS_CREDS: nats.credentialsFile } : {}),
    ...(nats.caFile ? { NATS_CA: nats.caFile } : {}),
  };
}

/** Every message of `stream` so far that `parse` accepts, oldest first. */
export async function streamMessages<T>(
  nc: NatsConnection,
  stream: string,
  parse: (data: Uint8Array) => { ok: true; value: T } | { ok: false },
): Promise<T[]> {
  const consumer = await jetstream(nc).consumers.get(stream);
  const out: T[] = [];
  for (;;) {
    const m = await consumer.next({ expires: 1000 });
    if (!m) return out;
    const e = parse(m.data);
    if (e.ok) out.push(e.value);
  }
}

/** Every audit entry of region `local` so far (the AUDIT stream, oldest first). */
export function auditEntries(nc: NatsConnection): Promise<AuditEntry[]> {
  return streamMessages(nc, streamName("AUDIT", "local"), parseAuditEntry);
}

/** Reads a child's stdout line by line. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
    }
  }
  if (buffer !== "") yield buffer;
}

/** The repository's root folder. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** A TCP server that accepts connections and never speaks: a NATS handshake never starts. */
export function silentServer(): { url: string; reached: Promise<void> } & Disposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  let reached!: () => void;
  const first = new Promise<void>((r) => (reached = r));
  (async () => {
    for await (const conn of listener) {
      held.push(conn);
      reached();
    }
  })().catch(() => {/* the listener was closed by its disposal */});
  return {
    url: `nats://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    reached: first,
    [Symbol.dispose]() {
      listener.close();
      for (const c of held) c.close();
    },
  };
}

/** A program a test runs in order to stop it (see {@link spawnStoppable}). */
export interface StoppableProgram {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Resolves with the rest of the first stdout line that starts with `prefix`. */
  printed(prefix: string): Promise<string>;
  /**
   * Sends SIGTERM and waits for the end, failing the test unless the program exits 0 within
   * its deadline; resolves with the ms it took and the last lines it wrote on stderr.
   */
  terminate(): Promise<{ ms: number; said: readonly string[] }>;
}

/**
 * Runs the Deno program `script` (a path from the repository's root) with `options.args` and
 * `options.env`, keeping its last 30 stderr lines for failure messages; a program still running
 * `options.deadlineMs` (default 30 s) after SIGTERM is killed and fails the test.
 */
export function spawnStoppable(
  script: string,
  options: { args?: string[]; env?: Record<string, string>; deadlineMs?: number } = {},
): StoppableProgram {
  const deadlineMs = options.deadlineMs ?? 30_000;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", `${ROOT}${script}`, ...(options.args ?? [])],
    env: options.env ?? {},
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const said: string[] = [];
  const logging = (async () => {
    for await (const line of lines(child.stderr)) {
      said.push(line);
      if (said.length > 30) said.shift();
    }
  })();
  const out = lines(child.stdout);
  return {
    child,
    async printed(prefix) {
      for await (const l of out) if (l.startsWith(prefix)) return l.slice(prefix.length);
      throw new Error(`${script} ended without printing ${prefix}; it said:\n${said.join("\n")}`);
    },
    async terminate() {
      const t0 = performance.now();
      child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), deadlineMs)));
      const status = await Promise.race([child.status, late]);
      clearTimeout(timer);
      if (status === "late") {
        child.kill("SIGKILL");
        await child.status;
        await logging;
        throw new Error(
          `${script} still running ${deadlineMs} ms after SIGTERM; it said:\n${said.join("\n")}`,
        );
      }
      const ms = Math.round(performance.now() - t0);
      await logging;
      for await (const _ of out) { /* drain */ }
      if (status.code !== 0 || status.signal !== null) {
        throw new Error(
          `${script} did not stop cleanly (exit ${status.code}, signal ${status.signal}); it said:\n${
            said.join("\n")
          }`,
        );
      }
      return { ms, said: [...said] };
    },
  };
}

/** An HTTP API answer: status and the parsed JSON body. */
// deno-lint-ignore no-explicit-any
export type ApiAnswer = { status: number; body: any };

/**
 * A client of the cloud's JSON API at `baseUrl` with a bearer `token`:
 * `api("POST", "/customers", { email })` -> `{ status, body }`; `options.token` for another one.
 */
export function apiClient(
  baseUrl: string,
  token: string,
): (
  method: string,
  path: string,
  body?: unknown,
  options?: { token?: string },
) => Promise<ApiAnswer> {
  return async (method, path, body, options = {}) => {
    const res = await fetch(`${baseUrl}${path}`, {
      // A hung server fails the test instead of hanging it.
      signal: AbortSignal.timeout(20_000),
      method,
      headers: {
        authorization: `Bearer ${options.token ?? token}`,
        "content-type": "application/json",
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };
}
