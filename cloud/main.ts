/**
 * Entry point of the cloud service process.
 *
 * Environment: `NATS_URL` (when unset, a local nats-server is started), `VEND_REGION`
 * (default `local`), `VEND_API_PORT` (preferred port, default any free port), `VEND_DATA_DIR`.
 * Prints `nats: URL` and `api: URL` on stdout once serving; logs go to stderr as JSON lines.
 * `VEND_FAULT=payments:after_capture` (tests) kills the process right after a provider capture
 * succeeded, before the session records it.
 *
 * @example
 * ```sh
 * NATS_URL=nats://127.0.0.1:4222 deno run -A cloud/main.ts
 * ```
 *
 * @module
 */
import { startCloudService } from "./cloud_service.ts";
import { ensureNats } from "./local_nats.ts";
import { onShutdown } from "./shutdown.ts";
import type { CrashPoint } from "./crashing_provider.ts";

if (import.meta.main) {
  const shutdown = onShutdown();
  const port = Number(Deno.env.get("VEND_API_PORT") ?? "0");
  const fault = Deno.env.get("VEND_FAULT");
  const crash = /^payments:after_(authorize|capture|cancel|refund)$/.exec(fault ?? "");
  if (fault && !crash) {
    console.error(
      `cloud: VEND_FAULT: expected payments:after_authorize, _capture, _cancel or _refund, got "${fault}"`,
    );
    Deno.exit(2);
  }
  try {
    await using nats = await ensureNats({ signal: shutdown });
    await using svc = await startCloudService(nats.url, {
      region: Deno.env.get("VEND_REGION") ?? "local",
      port,
      signal: shutdown,
      ...(crash ? { payments: { crashAfter: crash[1] as CrashPoint } } : {}),
    });
    console.log(`nats: ${nats.url}`);
    console.log(`api: ${svc.url}`);
    await new Promise((resolve) => shutdown.addEventListener("abort", resolve, { once: true }));
  } catch (e) {
    console.error(`cloud: ${(e as Error).message}`);
    Deno.exit(1);
  }
  // Everything is stopped (the `using`s above); a pending read of stdin (the parent watch)
  // would otherwise keep the process alive.
  Deno.exit(0);
}
