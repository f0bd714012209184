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
import { connectNats, type LocalNats, startLocalNats } from "../cloud/mod.ts";

/** A test's nats-server: its URL, a way to connect, and disposal that removes everything. */
export interface TestNats extends AsyncDisposable {
  /** Client URL. */
  readonly url: string;
  /** The server process. */
  readonly server: LocalNats;
  /** Connects a client that is closed when the returned object is disposed. */
  connect(name?: string): Promise<NatsConnection & AsyncDisposable>;
}

/** Starts a fresh nats-server with JetStream in a temporary folder. */
export async function startTestNats(): Promise<TestNats> {
  const dataDir = await Deno.makeTempDir({ prefix: "vend-test-nats-" });
  let server: LocalNats;
  try {
    server = await startLocalNats({ dataDir });
  } catch (e) {
    await Deno.remove(dataDir, { recursive: true });
    throw e;
  }
  const clients: NatsConnection[] = [];
  return {
    url: server.url,
    server,
    async connect(name = "test") {
      const nc = await connectNats(server.url, { name, timeoutMs: 5000 });
      clients.push(nc);
      return Object.assign(nc, { [Symbol.asyncDispose]: () => nc.close() });
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((nc) => nc.close().catch(() => {})));
      await server.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
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
