/**
 * Local NATS as the embedded default: starts `nats-server` as a child process with JetStream on a
 * data folder and a free loopback port, waits until it is ready, and stops it when asked, when the
 * given signal aborts, or when this process exits. With `NATS_URL` set, {@link ensureNats}
 * connects there instead and starts nothing.
 *
 * @example
 * ```ts
 * import { startLocalNats } from "./local_nats.ts";
 *
 * await using nats = await startLocalNats({ dataDir: await Deno.makeTempDir() });
 * console.log(nats.url); // nats://127.0.0.1:41873
 * ```
 *
 * @module
 */
import { connectNats, type NatsTarget } from "../nats/mod.ts";
import { ensurePrivateCa, issueServerCertificate, NatsAccounts } from "../provisioning/mod.ts";
import { sleep, writePrivateFile } from "../../runtime/mod.ts";
import {
  awaitReady,
  type NatsChild,
  removeIfPresent,
  signalIfRunning,
  spawnNats,
  type TailLines,
} from "./_nats_process.ts";

/** Options of {@link startLocalNats}. */
export interface LocalNatsOptions {
  /** Data folder; JetStream stores under `<dataDir>/nats`. Default: `VEND_DATA_DIR` or `~/.local/share/vendstream`. */
  dataDir?: string;
  /** Preferred client port; when it is taken (or 0, the default) a free port is picked. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** The nats-server executable. Default `nats-server` from PATH. */
  serverPath?: string;
  /** How long to wait for the server to become ready, in ms. Default 10,000. */
  readyTimeoutMs?: number;
  /**
   * Decentralized authentication (the default): the operator and accounts of
   * `<dataDir>/auth` (created on first use), a resolver, and no access without credentials.
   * `false` runs an open server (only for tools that need one).
   */
  auth?: boolean;
  /** The folder of the operator's and accounts' keys (and the private CA). Default `<dataDir>/auth`. */
  authDir?: string;
  /**
   * TLS (the default): a certificate for `localhost` and `127.0.0.1` from the private CA in the
   * auth folder (made on first use); clients trust `caFile` and connect to `tls://`. `false`
   * serves plain NATS (only for tools that need it).
   */
  tls?: boolean;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/** Options of {@link ensureNats}. */
export interface EnsureNatsOptions extends LocalNatsOptions {
  /** A server to use instead of starting one. Default: the `NATS_URL` environment variable. */
  url?: string;
  /** How long to try reaching `url`, in ms. Default 10,000. */
  connectTimeoutMs?: number;
  /** Credentials for `url`. Default: the `NATS_CREDS` environment variable. */
  credentialsFile?: string;
  /** The CA that signed `url`'s certificate. Default: the `NATS_CA` environment variable. */
  caFile?: string;
}

/** A NATS server to use: either one this process started, or an external one. */
export interface NatsEndpoint extends AsyncDisposable {
  /** Client URL, e.g. `nats://127.0.0.1:4222`. */
  readonly url: string;
  /** True when this process started the server (and will stop it). */
  readonly local: boolean;
  /** The cloud's credentials file for this server; absent for an open server. */
  readonly credentialsFile?: string;
  /** The operator and accounts, when this process started the server with them. */
  readonly accounts?: NatsAccounts;
  /** The CA that signed the server's certificate, when it serves TLS. */
  readonly caFile?: string;
  /** Stops the server if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/** nats-server could not be started. */
export class NatsStartError extends Error {
  /** Creates the error; `message` names what failed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NatsStartError";
  }
}

/** The default data folder: `VEND_DATA_DIR`, else `~/.local/share/vendstream`. */
export function defaultDataDir(): string {
  const fromEnv = Deno.env.get("VEND_DATA_DIR");
  if (fromEnv) return fromEnv;
  const home = Deno.env.get("HOME");
  if (!home) {
    throw new NatsStartError("Cannot choose a data folder: neither VEND_DATA_DIR nor HOME is set");
  }
  return `${home}/.local/share/vendstream`;
}

function freePort(host: string): number {
  const listener = Deno.listen({ hostname: host, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function portIsFree(host: string, port: number): boolean {
  try {
    Deno.listen({ hostname: host, port }).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return false;
    throw e;
  }
}

function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (e) {
    // No such process (ESRCH), or one that is not ours (EPERM, a reused pid): not our owner.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      return false;
    }
    throw e;
  }
}

function readCmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch (e) {
    // Gone meanwhile (or no /proc here): no command line to compare.
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

interface OwnerRecord {
  ownerPid: number;
  serverPid: number;
}

/**
 * Guards a data folder: refuses it while another live process runs a server on it, and stops a
 * server orphaned by an owner that died (SIGKILL leaves the child running).
 */
async function claimDataDir(natsDir: string): Promise<string> {
  const ownerFile = `${natsDir}/owner.json`;
  let record: OwnerRecord | undefined;
  try {
    record = JSON.parse(await Deno.readTextFile(ownerFile)) as OwnerRecord;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !(e instanceof SyntaxError)) throw e;
  }
  if (record && Number.isInteger(record.serverPid) && processAlive(record.serverPid)) {
    const isOurServer = readCmdline(record.serverPid).includes(natsDir);
    if (
      isOurServer && Number.isInteger(record.ownerPid) && processAlive(record.ownerPid) &&
      record.ownerPid !== Deno.pid
    ) {
      throw new NatsStartError(
        `Cannot use data folder "${natsDir}": nats-server pid ${record.serverPid} of process ${record.ownerPid} is running on it`,
      );
    }
    if (isOurServer) {
      Deno.kill(record.serverPid, "SIGTERM");
      for (let i = 0; i < 50 && processAlive(record.serverPid); i++) await sleep(100);
    }
  }
  return ownerFile;
}

/** A nats-server child process started by {@link startLocalNats}. */
export class LocalNats implements NatsEndpoint {
  /** Client URL. */
  readonly url: string;
  /** Always true: this process started the server. */
  readonly local = true;
  /** The data folder given (JetStream stores under `<dataDir>/nats`). */
  readonly dataDir: string;
  /** Client port. */
  readonly port: number;
  /** The cloud's credentials (`<dataDir>/auth/cloud.creds`); absent for an open server. */
  readonly credentialsFile?: string;
  /** The operator and accounts; absent for an open server. */
  readonly accounts?: NatsAccounts;
  /** The CA clients trust (TLS); absent for a plain server. */
  readonly caFile?: string;
  /** Resolves with the exit status when the server process ends. */
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #tail: TailLines;
  #ownerFile: string;
  #onUnload: () => void;
  #stopping: Promise<void> | undefined;

  /** @internal Use {@link startLocalNats}. */
  constructor(
    init: {
      url: string;
      port: number;
      dataDir: string;
      child: Deno.ChildProcess;
      ownerFile: string;
      exited: Promise<Deno.CommandStatus>;
      accounts?: NatsAccounts;
      credentialsFile?: string;
      caFile?: string;
      tail: TailLines;
    },
  ) {
    if (init.caFile) this.caFile = init.caFile;
    this.#tail = init.tail;
    this.url = init.url;
    if (init.accounts) this.accounts = init.accounts;
    if (init.credentialsFile) this.credentialsFile = init.credentialsFile;
    this.port = init.port;
    this.dataDir = init.dataDir;
    this.#child = init.child;
    this.#ownerFile = init.ownerFile;
    this.exited = init.exited;
    this.#onUnload = () => signalIfRunning(this.#child, "SIGTERM");
    globalThis.addEventListener("unload", this.#onUnload);
  }

  /** The server's last 200 log lines (errors such as refused permissions show here). */
  log(): string {
    return this.#tail.text();
  }

  /** Calls `listener` with every log line the server writes from now on; returns an unsubscribe. */
  onLog(listener: (line: string) => void): () => void {
    this.#tail.listeners.add(listener);
    return () => this.#tail.listeners.delete(listener);
  }

  /** The server's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits until it has exited. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      globalThis.removeEventListener("unload", this.#onUnload);
      signalIfRunning(this.#child, "SIGTERM");
      const timer = setTimeout(() => signalIfRunning(this.#child, "SIGKILL"), 5000);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
      await removeIfPresent(this.#ownerFile); // another stop may have removed it
    })();
    return this.#stopping;
  }

  /** Same as {@link LocalNats.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts nats-server with JetStream on `<dataDir>/nats` and resolves once it accepts
 * connections. A taken port is not a failure: another free port is picked.
 */
export async function startLocalNats(options: LocalNatsOptions = {}): Promise<LocalNats> {
  const host = options.host ?? "127.0.0.1";
  const dataDir = options.dataDir ?? defaultDataDir();
  const natsDir = `${dataDir}/nats`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  if (
    options.port !== undefined &&
    (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
  ) {
    throw new RangeError(`Cannot start NATS on port ${options.port}: expected 0-65535`);
  }
  options.signal?.throwIfAborted();
  await Deno.mkdir(natsDir, { recursive: true });
  const ownerFile = await claimDataDir(natsDir);
  const authDir = options.authDir ?? `${dataDir}/auth`;
  const auth = options.auth === false ? undefined : await prepareAuth(authDir, natsDir);
  const tls = options.tls === false ? undefined : await issueServerCertificate(
    await ensurePrivateCa(authDir),
    `${natsDir}/tls`,
    { name: "nats" },
  );
  const configFile = `${natsDir}/server.conf`;
  await writePrivateFile(
    configFile,
    [
      ...(auth ? [auth.config] : []),
      ...(tls
        ? [
          `tls { cert_file: ${JSON.stringify(tls.certFile)}, key_file: ${
            JSON.stringify(tls.keyFile)
          }, timeout: 5 }`,
        ]
        : []),
    ].join("\n") + "\n",
  );

  let lastError: NatsStartError | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const wanted = attempt === 0 ? options.port ?? 0 : 0;
    const port = wanted !== 0 && portIsFree(host, wanted) ? wanted : freePort(host);
    const args = [
      "-c",
      configFile,
      "-a",
      host,
      "-p",
      String(port),
      "-js",
      "-sd",
      natsDir,
      "-n",
      `vendstream-${port}`,
    ];
    let spawned: NatsChild;
    try {
      spawned = spawnNats(options.serverPath ?? "nats-server", args);
    } catch (cause) {
      throw new NatsStartError(
        `Cannot start nats-server ("${options.serverPath ?? "nats-server"}"): ${
          (cause as Error).message
        }; ./vend setup installs it`,
        { cause },
      );
    }
    const { child, tail, exited } = spawned;
    await Deno.writeTextFile(
      ownerFile,
      JSON.stringify({ ownerPid: Deno.pid, serverPid: child.pid }),
    );
    const outcome = await awaitReady(spawned, readyTimeoutMs);
    if (outcome === "ready") {
      const nats = new LocalNats({
        url: `${tls ? "tls" : "nats"}://${host}:${port}`,
        port,
        dataDir,
        child,
        ownerFile,
        exited,
        tail,
        ...(auth ? { accounts: auth.accounts, credentialsFile: auth.credentialsFile } : {}),
        ...(tls ? { caFile: tls.caFile } : {}),
      });
      options.signal?.addEventListener("abort", () => nats.stop(), { once: true });
      return nats;
    }
    signalIfRunning(child, "SIGKILL");
    await exited;
    if (tail.find(/address already in use/)) {
      lastError = new NatsStartError(`Cannot start nats-server: port ${port} was taken`);
      continue; // lost a race for the port: try another one
    }
    const why = outcome === "timeout" ? `not ready within ${readyTimeoutMs} ms` : "it exited";
    throw new NatsStartError(`Cannot start nats-server on ${host}:${port}: ${why}\n${tail.text()}`);
  }
  throw lastError ?? new NatsStartError("Cannot start nats-server");
}

/**
 * Where the tools (`./vend token`, `./vend ledger`) find NATS: `NATS_URL`, `NATS_CREDS` and
 * `NATS_CA`, else the local installation's server (`tls://127.0.0.1:4222`) with the cloud's
 * credentials and the private CA of its data folder.
 */
export function localNatsTarget(): NatsTarget {
  const auth = `${defaultDataDir()}/auth`;
  const fileOr = (env: string, file: string) => {
    const fromEnv = Deno.env.get(env);
    if (fromEnv) return fromEnv;
    try {
      Deno.statSync(file);
      return file;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined; // not installed here
      throw e;
    }
  };
  const url = Deno.env.get("NATS_URL");
  const credentialsFile = fileOr("NATS_CREDS", `${auth}/cloud.creds`);
  const caFile = fileOr("NATS_CA", `${auth}/ca.pem`);
  return {
    url: url ?? `${caFile ? "tls" : "nats"}://127.0.0.1:4222`,
    ...(credentialsFile ? { credentialsFile } : {}),
    ...(caFile ? { caFile } : {}),
  };
}

/** Writes the server's authentication configuration and the cloud's credentials file. */
async function prepareAuth(authDir: string, natsDir: string) {
  const accounts = await NatsAccounts.open(authDir);
  const config = await accounts.serverConfig({ resolverDir: `${natsDir}/jwt` });
  const credentialsFile = `${authDir}/cloud.creds`;
  const cloud = await accounts.cloudCredentials();
  await writePrivateFile(credentialsFile, new TextDecoder().decode(cloud.creds));
  return { accounts, config, credentialsFile };
}

/**
 * The NATS server to use: the one at `options.url` (default `NATS_URL`) after checking that it
 * answers within `connectTimeoutMs`, or else a local server started by {@link startLocalNats}.
 */
export async function ensureNats(options: EnsureNatsOptions = {}): Promise<NatsEndpoint> {
  const url = options.url ?? Deno.env.get("NATS_URL");
  if (!url) return await startLocalNats(options);
  const credentialsFile = options.credentialsFile ?? Deno.env.get("NATS_CREDS");
  const caFile = options.caFile ?? Deno.env.get("NATS_CA");
  const nc = await connectNats(url, {
    ...(credentialsFile ? { credentialsFile } : {}),
    ...(caFile ? { caFile } : {}),
    timeoutMs: options.connectTimeoutMs ?? 10_000,
    name: "vendstream-probe",
    ...(options.signal ? { signal: options.signal } : {}),
  });
  await nc.close();
  const stop = () => Promise.resolve();
  return {
    url,
    local: false,
    ...(credentialsFile ? { credentialsFile } : {}),
    ...(caFile ? { caFile } : {}),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
