/**
 * Connecting to NATS with a deadline and an error that names the URL.
 *
 * @example
 * ```ts
 * import { connectNats } from "./nats_connect.ts";
 *
 * const nc = await connectNats("nats://127.0.0.1:4222", { name: "vendstream-cloud" });
 * await nc.close();
 * ```
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";

/** A NATS server could not be reached. */
export class NatsUnavailableError extends Error {
  /** The URL that could not be reached. */
  readonly url: string;
  /** Creates the error for `url`. */
  constructor(url: string, reason: string, options?: ErrorOptions) {
    super(`Cannot connect to NATS at ${url}: ${reason}`, options);
    this.name = "NatsUnavailableError";
    this.url = url;
  }
}

/** Options of {@link connectNats}. */
export interface ConnectNatsOptions {
  /** Connection name shown by the server. */
  name?: string;
  /** Give up on the first connection after this many ms. Default 10,000. */
  timeoutMs?: number;
  /** Reconnect after a lost connection, forever. Default true. */
  reconnect?: boolean;
  /**
   * A `.creds` file (user JWT and seed), read again at every reconnect so rotated credentials
   * take effect. Default: the endpoint's (none when `target` is a URL).
   */
  credentialsFile?: string;
  /**
   * The CA that signed the server's certificate (TLS). Default: the endpoint's (none when
   * `target` is a URL).
   */
  caFile?: string;
  /** Prefix of reply inboxes (a device's must be its own). */
  inboxPrefix?: string;
  /** Cancels the attempt. */
  signal?: AbortSignal;
}

/** A server to connect to: its URL, and the credentials it wants. */
export interface NatsTarget {
  /** Client URL(s), comma-separated. */
  readonly url: string;
  /** Credentials file, when the server requires one. */
  readonly credentialsFile?: string;
  /** The CA of the server's certificate, when it serves TLS. */
  readonly caFile?: string;
}

const URL_PATTERN = /^(nats|tls|ws|wss):\/\/[^\s/]+\/?$/;

/**
 * Connects to the server (or comma-separated servers) at `url`; throws {@link NatsUnavailableError}
 * naming the URL when none answers within the deadline.
 */
export async function connectNats(
  target: string | NatsTarget,
  options: ConnectNatsOptions = {},
): Promise<NatsConnection> {
  const url = typeof target === "string" ? target : target.url;
  const credentialsFile = options.credentialsFile ??
    (typeof target === "string" ? undefined : target.credentialsFile);
  const caFile = options.caFile ?? (typeof target === "string" ? undefined : target.caFile);
  const servers = url.split(",").map((s) => s.trim());
  const bad = servers.find((s) => !URL_PATTERN.test(s));
  if (bad !== undefined) {
    throw new TypeError(
      `Cannot connect to NATS: ${JSON.stringify(bad)} is not a URL like nats://host:4222`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const attempt = connect({
    servers,
    timeout: timeoutMs,
    reconnect: options.reconnect ?? true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...(options.name ? { name: options.name } : {}),
    ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
    ...(caFile ? { tls: { caFile } } : {}),
    ...(credentialsFile ? { authenticator: credsAuthenticator(readCreds(credentialsFile)) } : {}),
  });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([attempt, aborted]);
  } catch (cause) {
    // The abandoned attempt: a connection that comes late is closed. What this catches is that
    // attempt's own failure, already reported here as the cause (or one after the deadline that
    // no one waits for), or the late connection's close: nothing more to say.
    attempt.then((nc) => nc.close()).catch(() => {});
    const reason = deadline.aborted
      ? `no answer within ${timeoutMs} ms`
      : (cause as Error).message || String(cause);
    throw new NatsUnavailableError(url, reason, { cause });
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

/** A reader of a `.creds` file for nats.js, called at each (re)connect; names the file when unreadable. */
export function readCreds(path: string): () => Uint8Array {
  return () => {
    try {
      return Deno.readFileSync(path);
    } catch (cause) {
      throw new NatsUnavailableError(
        `(credentials ${path})`,
        `cannot read the credentials file: ${(cause as Error).message}`,
        { cause },
      );
    }
  };
}
