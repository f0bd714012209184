/**
 * A device's connection across regions: it connects to its home region's servers first, fails
 * over to the other regions' servers when none of its own answers, and goes home again once one
 * does. nats.js keeps the server pool and reconnects; this module chooses which server it dials
 * ({@link homeFirst}) and watches for the way home ({@link returnHome}).
 *
 * @example
 * ```ts
 * import { homeFirst, returnHome } from "./region_failover.ts";
 * declare const connect: typeof import("@nats-io/transport-node").connect;
 *
 * const home = ["tls://10.0.0.1:4222", "tls://10.0.0.2:4222"];
 * const policy = homeFirst(home);
 * const nc = await connect({
 *   servers: [...home, "tls://10.1.0.1:4222"],
 *   noRandomize: true,
 *   reconnectToServer: policy.choose,
 * });
 * void returnHome(nc, policy, { signal: AbortSignal.timeout(60_000) });
 * ```
 *
 * @module
 */
import { errors, type NatsConnection, type Server } from "@nats-io/nats-core";
import { sleep } from "../../runtime/mod.ts";

/**
 * How a device reconnects (nats.js options): forever, a server at most every 1-2 s (jittered, so
 * a region's devices do not all come back at once), a dial given up after 2 s, a stale
 * connection noticed after two missed pings 10 s apart.
 */
export const DEVICE_RECONNECT = Object.freeze({
  maxReconnectAttempts: -1,
  reconnectTimeWait: 1000,
  reconnectJitter: 1000,
  timeout: 2000,
  pingInterval: 10_000,
});

/** The dialing policy of a device with a home region. */
export interface HomeFirst {
  /** The home servers, as `host:port`. */
  readonly home: ReadonlySet<string>;
  /** A nats.js `reconnectToServer` handler: each home server once, then the pool's choice. */
  readonly choose: (pool: ReadonlyArray<Server>) => Server | null;
  /** Starts a new round (each home server is tried once more before the others). */
  reset(): void;
}

function hostPort(url: string): string {
  const m = /^[a-z]+:\/\/([^/]+?)\/?$/.exec(url.trim());
  if (!m) throw new TypeError(`Cannot read server URL ${JSON.stringify(url)}`);
  return m[1]!;
}

/** The dialing policy for a device whose home region's servers are `homeUrls`. */
export function homeFirst(homeUrls: readonly string[]): HomeFirst {
  if (homeUrls.length === 0) throw new TypeError("Cannot prefer a home region without servers");
  const home = new Set(homeUrls.map(hostPort));
  let tried = new Set<string>();
  return {
    home,
    choose(pool) {
      // Each home server once per round (a region where one server died keeps its devices).
      const next = pool.find((s) => home.has(s.listen) && !tried.has(s.listen));
      if (next) {
        tried.add(next.listen);
        return next;
      }
      // Then whatever the pool offers next: another region's server.
      const other = pool.find((s) => !home.has(s.listen));
      if (other) tried = new Set(); // after a failover, a later loss starts a new round
      return other ?? null;
    },
    reset() {
      tried = new Set();
    },
  };
}

/** The parts of nats.js's connection internals {@link forceReconnect} reaches for. */
interface TransportInternals {
  protocol?: { transport?: { done?: boolean; socket?: { destroy(): void } } };
}

/**
 * `nc.reconnect()`, made sure of. nats.js's node transport, asked to disconnect, first flushes an
 * empty write, and over Deno's `node:tls` that write's callback never comes: the connection
 * stays up, and what is published meanwhile waits behind it (found here: a device never went
 * home and its events stopped). When the connection has not dropped after `graceMs`, its socket
 * is closed, which is what the transport does when the server goes away.
 */
export async function forceReconnect(nc: NatsConnection, graceMs = 1000): Promise<void> {
  const internals = nc as unknown as TransportInternals;
  const transport = internals.protocol?.transport;
  await nc.reconnect();
  await sleep(graceMs);
  if (transport && internals.protocol?.transport === transport && !transport.done) {
    transport.socket?.destroy();
  }
}

/** Whether something listens at `host:port` (a TCP connect within `timeoutMs`). */
async function reachable(address: string, timeoutMs: number): Promise<boolean> {
  const i = address.lastIndexOf(":");
  const hostname = address.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(i + 1));
  let conn: Deno.Conn | undefined;
  try {
    conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    // Refused, timed out, unreachable, a name that does not resolve: every failure to connect
    // is the answer asked for (nobody listens there now).
    return false;
  } finally {
    conn?.close();
  }
}

/**
 * While `nc` is on another region's server, checks the home servers every `everyMs` and, once
 * one accepts connections, reconnects (the policy dials home first). Resolves when `signal`
 * aborts or the connection closes; `onReturn` is told each time it sets off home.
 */
export async function returnHome(
  nc: NatsConnection,
  policy: HomeFirst,
  options: { signal?: AbortSignal; everyMs?: number; onReturn?: () => void } = {},
): Promise<void> {
  const everyMs = options.everyMs ?? 5000;
  const signal = options.signal;
  const closed = nc.closed();
  let isClosed = false;
  // closed() never rejects: it resolves (with the error that closed the connection, if any).
  void closed.then(() => (isClosed = true));
  while (!signal?.aborted && !isClosed) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, everyMs);
      signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
    if (signal?.aborted || isClosed || nc.isClosed()) return;
    const current = nc.getServer();
    if (!current || policy.home.has(current)) continue;
    const homeUp = await Promise.all([...policy.home].map((a) => reachable(a, 1000)));
    if (!homeUp.some(Boolean)) continue;
    policy.reset();
    try {
      await forceReconnect(nc);
    } catch (e) {
      // Closed or draining meanwhile: the loop ends at its next check. Anything else fails
      // returnHome (the agent's task logs it and starts it again).
      if (
        e instanceof errors.ClosedConnectionError || e instanceof errors.DrainingConnectionError
      ) {
        continue;
      }
      throw e;
    }
    options.onReturn?.();
  }
}
