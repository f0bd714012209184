/**
 * A supercluster of nats-server child processes on loopback, from a generated plan: a 3-server
 * cluster per region (JetStream placement by `region:<id>` tags), gateways between them, a witness
 * server when the number of regions is even, and the same operator, accounts, private CA and
 * mutual TLS as {@link startLocalNats}. Servers can be killed and started again one by one or a
 * region at a time: what the demo, the tests and `./vend bench cluster` use.
 *
 * @example
 * ```ts
 * import { startLocalSupercluster } from "./local_supercluster.ts";
 *
 * await using sc = await startLocalSupercluster({
 *   dataDir: await Deno.makeTempDir(),
 *   regions: ["eu-west", "us-east"],
 * });
 * sc.target("eu-west"); // { url: "tls://127.0.0.1:...,tls://...", credentialsFile, caFile }
 * await sc.stopRegion("eu-west");
 * ```
 *
 * @module
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { sleep, writePrivateFile } from "../../runtime/mod.ts";
import {
  awaitReady,
  type NatsChild,
  removeIfPresent,
  signalIfRunning,
  spawnNats,
} from "./_nats_process.ts";
import { ensurePrivateCa, issueServerCertificate, NatsAccounts } from "../provisioning/mod.ts";
import {
  connectNats,
  type NatsTarget,
  planSupercluster,
  regionUrls,
  serverConfig,
  type ServerTlsFiles,
  type SuperclusterPlan,
  type SuperclusterServer,
} from "../nats/mod.ts";
import { NatsStartError } from "./local_nats.ts";

/** Options of {@link startLocalSupercluster}. */
export interface LocalSuperclusterOptions {
  /** Data folder: `<dataDir>/supercluster/<server>` per server, `<dataDir>/auth` for keys. */
  dataDir: string;
  /** Regions, one cluster each. Default `["local"]` (a single 3-server cluster). */
  regions?: readonly string[];
  /** Servers per region. Default 3. */
  serversPerRegion?: number;
  /** Add the witness server. Default: with an even number of regions. */
  witness?: boolean;
  /** Decentralized authentication (default true), as in {@link startLocalNats}. */
  auth?: boolean;
  /** TLS for clients and between servers (default true). */
  tls?: boolean;
  /** The nats-server executable. Default `nats-server` from PATH. */
  serverPath?: string;
  /** How long each server may take to become ready, and JetStream to elect its leader. Default 20,000 ms. */
  readyTimeoutMs?: number;
  /** Stops every server when aborted. */
  signal?: AbortSignal;
  /** @internal How many times the start was tried again (a port taken meanwhile). */
  attempt?: number;
}

interface Running extends NatsChild {
  stopping?: Promise<void>;
}

/** A running local supercluster. */
export class LocalSupercluster implements AsyncDisposable {
  /** The servers' layout (ports, tags). */
  readonly plan: SuperclusterPlan;
  /** The data folder. */
  readonly dataDir: string;
  /** The cloud account's credentials; absent without authentication. */
  readonly credentialsFile?: string;
  /** The CA of the servers' certificates; absent without TLS. */
  readonly caFile?: string;
  /** The operator and accounts; absent without authentication. */
  readonly accounts?: NatsAccounts;
  #running = new Map<string, Running>();
  #configFiles: Map<string, string>;
  #serverPath: string;
  #readyTimeoutMs: number;
  #onUnload: () => void;

  /** @internal Use {@link startLocalSupercluster}. */
  constructor(init: {
    plan: SuperclusterPlan;
    dataDir: string;
    configFiles: Map<string, string>;
    serverPath: string;
    readyTimeoutMs: number;
    credentialsFile?: string;
    caFile?: string;
    accounts?: NatsAccounts;
  }) {
    this.plan = init.plan;
    this.dataDir = init.dataDir;
    this.#configFiles = init.configFiles;
    this.#serverPath = init.serverPath;
    this.#readyTimeoutMs = init.readyTimeoutMs;
    if (init.credentialsFile) this.credentialsFile = init.credentialsFile;
    if (init.caFile) this.caFile = init.caFile;
    if (init.accounts) this.accounts = init.accounts;
    this.#onUnload = () => {
      for (const r of this.#running.values()) signalIfRunning(r.child, "SIGKILL");
    };
    globalThis.addEventListener("unload", this.#onUnload);
  }

  #server(name: string): SuperclusterServer {
    const s = this.plan.servers.find((x) => x.name === name);
    if (!s) throw new RangeError(`Server ${JSON.stringify(name)} is not in the supercluster`);
    return s;
  }

  /** The servers of `region`. */
  servers(region: string): SuperclusterServer[] {
    const list = this.plan.servers.filter((s) => s.region === region);
    if (list.length === 0) {
      throw new RangeError(`Region ${JSON.stringify(region)} is not in the supercluster`);
    }
    return list;
  }

  /** The client URLs of `region` (default: the first region), comma-separated. */
  url(region: string = this.plan.regions[0]!): string {
    return regionUrls(this.plan, region, { tls: this.caFile !== undefined }).join(",");
  }

  /** What a cloud instance of `region` connects to: its region's servers and credentials. */
  target(region: string = this.plan.regions[0]!): NatsTarget {
    return {
      url: this.url(region),
      ...(this.credentialsFile ? { credentialsFile: this.credentialsFile } : {}),
      ...(this.caFile ? { caFile: this.caFile } : {}),
    };
  }

  /** The client URL of one server. */
  serverUrl(name: string): string {
    const s = this.#server(name);
    return `${this.caFile ? "tls" : "nats"}://${s.host}:${s.clientPort}`;
  }

  /** True while `name`'s process runs. */
  isRunning(name: string): boolean {
    this.#server(name);
    return this.#running.has(name);
  }

  /** The process id of a running server. */
  pid(name: string): number {
    const r = this.#running.get(name);
    if (!r) throw new RangeError(`Server ${JSON.stringify(name)} is not running`);
    return r.child.pid;
  }

  /** The last log lines of a running server. */
  log(name: string): string {
    return this.#running.get(name)?.tail.text() ?? "";
  }

  /** Starts `name` (again) with its generated configuration; resolves once it is ready. */
  async start(name: string): Promise<void> {
    this.#server(name);
    if (this.#running.has(name)) return;
    let spawned: NatsChild;
    try {
      spawned = spawnNats(this.#serverPath, ["-c", this.#configFiles.get(name)!]);
    } catch (cause) {
      throw new NatsStartError(
        `Cannot start nats-server ("${this.#serverPath}"): ${
          (cause as Error).message
        }; ./vend setup installs it`,
        { cause },
      );
    }
    const running: Running = spawned;
    this.#running.set(name, running);
    // `exited` does not reject (unreadable output goes to the server's log tail).
    void spawned.exited.then(() => {
      if (this.#running.get(name) === running) this.#running.delete(name);
    });
    const outcome = await awaitReady(spawned, this.#readyTimeoutMs);
    if (outcome !== "ready") {
      await this.kill(name);
      throw new NatsStartError(
        `Cannot start server "${name}": ${
          outcome === "timeout" ? `not ready within ${this.#readyTimeoutMs} ms` : "it exited"
        }\n${spawned.tail.text()}`,
      );
    }
  }

  /** Stops `name`: SIGKILL by default (a crash), or SIGTERM (a clean shutdown, lame duck). */
  kill(name: string, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    this.#server(name);
    const r = this.#running.get(name);
    if (!r) return Promise.resolve();
    r.stopping ??= (async () => {
      signalIfRunning(r.child, signal);
      const timer = setTimeout(() => signalIfRunning(r.child, "SIGKILL"), 10_000);
      try {
        await r.exited;
      } finally {
        clearTimeout(timer);
        this.#running.delete(name);
      }
    })();
    return r.stopping;
  }

  /** Stops every server of `region` at once (a region outage). */
  async stopRegion(region: string, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    await Promise.all(this.servers(region).map((s) => this.kill(s.name, signal)));
  }

  /** Starts every server of `region` again. */
  async startRegion(region: string): Promise<void> {
    await Promise.all(this.servers(region).map((s) => this.start(s.name)));
  }

  /**
   * Resolves once JetStream answers through `region`'s servers (its metadata group has a
   * leader); throws after `timeoutMs`.
   */
  async waitForJetStream(
    region: string = this.plan.regions[0]!,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.#readyTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const nc = await connectNats(this.target(region), { name: "vendstream-cluster-probe" });
    try {
      let last = "";
      while (Date.now() < deadline) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          return;
        } catch (e) {
          last = (e as Error).message;
          await sleep(250);
        }
      }
      throw new NatsStartError(
        `JetStream did not answer in region "${region}" within ${timeoutMs} ms: ${last}`,
      );
    } finally {
      await nc.close();
    }
  }

  /** Stops every server. */
  async stop(): Promise<void> {
    globalThis.removeEventListener("unload", this.#onUnload);
    await Promise.all([...this.#running.keys()].map((n) => this.kill(n, "SIGTERM")));
  }

  /** Same as {@link LocalSupercluster.stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Generates the configuration of every server (into `<dataDir>/supercluster`), starts them all
 * and resolves once JetStream answers in every region.
 */
export async function startLocalSupercluster(
  options: LocalSuperclusterOptions,
): Promise<LocalSupercluster> {
  options.signal?.throwIfAborted();
  const plan = planSupercluster(options.regions ?? ["local"], {
    ...(options.serversPerRegion ? { serversPerRegion: options.serversPerRegion } : {}),
    ...(options.witness !== undefined ? { witness: options.witness } : {}),
  });
  const root = `${options.dataDir}/supercluster`;
  await Deno.mkdir(root, { recursive: true, mode: 0o700 });
  const authDir = `${options.dataDir}/auth`;
  let accounts: NatsAccounts | undefined;
  let credentialsFile: string | undefined;
  if (options.auth !== false) {
    accounts = await NatsAccounts.open(authDir);
    credentialsFile = `${authDir}/cloud.creds`;
    const cloud = await accounts.cloudCredentials();
    await writePrivateFile(credentialsFile, new TextDecoder().decode(cloud.creds));
  }
  let tls: ServerTlsFiles | undefined;
  if (options.tls !== false) {
    tls = await issueServerCertificate(await ensurePrivateCa(authDir), `${root}/tls`, {
      name: "nats-peer",
      peer: true,
    });
  }
  const configFiles = new Map<string, string>();
  for (const s of plan.servers) {
    const dir = `${root}/${s.name}`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = `${dir}/server.conf`;
    await writePrivateFile(
      file,
      serverConfig(plan, s.name, {
        storeDir: `${dir}/js`,
        ...(accounts ? { auth: await accounts.serverConfig({ resolverDir: `${dir}/jwt` }) } : {}),
        ...(tls ? { tls, peerTls: tls } : {}),
      }),
    );
    configFiles.set(s.name, file);
  }
  await writePrivateFile(`${root}/plan.json`, JSON.stringify(plan, null, 2) + "\n");
  const sc = new LocalSupercluster({
    plan,
    dataDir: options.dataDir,
    configFiles,
    serverPath: options.serverPath ?? "nats-server",
    readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
    ...(credentialsFile ? { credentialsFile } : {}),
    ...(tls ? { caFile: tls.caFile } : {}),
    ...(accounts ? { accounts } : {}),
  });
  try {
    await Promise.all(plan.servers.map((s) => sc.start(s.name)));
    for (const r of plan.regions) await sc.waitForJetStream(r);
  } catch (e) {
    await sc.stop();
    // A port taken between the plan and the start (another process): plan again.
    if ((options.attempt ?? 0) < 3 && /address already in use/.test(String(e))) {
      await removeIfPresent(root, { recursive: true });
      return await startLocalSupercluster({ ...options, attempt: (options.attempt ?? 0) + 1 });
    }
    throw e;
  }
  options.signal?.addEventListener("abort", () => sc.stop(), { once: true });
  return sc;
}
