/**
 * `./vend demo`: starts the local NATS (or uses `NATS_URL`) and a cloud service process, prints
 * their URLs one per line (`nats: URL`, `api: URL`) and runs until Ctrl-C or `--duration`.
 *
 * @example
 * ```sh
 * ./vend demo --duration 10
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ensureNats, onShutdown } from "../cloud/mod.ts";

const USAGE = "Usage: ./vend demo [--duration SECONDS]";

function fail(message: string, code = 2): never {
  console.error(`demo: ${message}\n${USAGE}`);
  Deno.exit(code);
}

/** Reads lines from a child's stdout until one starts with `prefix`; later lines go to stderr. */
async function readUntil(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
): Promise<string | undefined> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return undefined;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith(prefix)) {
        // Keep draining so the child never blocks on a full pipe.
        (async () => {
          for (;;) {
            const next = await reader.read();
            if (next.done) return;
            await Deno.stderr.write(new TextEncoder().encode(next.value));
          }
        })().catch(() => {});
        return line.slice(prefix.length).trim();
      }
    }
  }
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: { duration: { type: "string" } },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    const seconds = Number(values.duration);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      fail(`--duration must be a positive number of seconds, got "${values.duration}"`);
    }
    durationMs = seconds * 1000;
  }

  const shutdown = onShutdown();
  await using nats = await ensureNats({ signal: shutdown, port: 4222 });
  console.log(`nats: ${nats.url}`);

  const cloud = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", new URL("../cloud/main.ts", import.meta.url).pathname],
    env: { NATS_URL: nats.url, VEND_API_PORT: Deno.env.get("VEND_API_PORT") ?? "8080" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stopCloud = async () => {
    try {
      cloud.kill("SIGTERM");
    } catch { /* already exited */ }
    await cloud.status;
  };
  try {
    const api = await readUntil(cloud.stdout, "api:");
    if (api === undefined) {
      throw new Error(`the cloud process exited (${(await cloud.status).code}) before serving`);
    }
    console.log(`api: ${api}`);

    const stopped = new Promise<string>((resolve) => {
      shutdown.addEventListener("abort", () => resolve("interrupted"), { once: true });
      if (durationMs !== undefined) setTimeout(() => resolve("duration reached"), durationMs);
      cloud.status.then((s) => resolve(`cloud process exited with code ${s.code}`));
    });
    const why = await stopped;
    if (why.startsWith("cloud process exited")) throw new Error(why);
    console.error(`demo: stopping (${why})`);
  } finally {
    await stopCloud();
  }
}

if (import.meta.main) {
  try {
    await main();
    Deno.exit(0);
  } catch (e) {
    console.error(`demo: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
