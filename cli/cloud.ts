/**
 * The cloud service program: the process `./vend demo`, the benchmarks and the tests run, one per
 * region. It wraps cloud/'s `startCloudService` with what development needs: a local nats-server
 * when none is configured (cloud/dev/) and crash injection for tests (cloud/testing/).
 *
 * Environment: `NATS_URL` (when unset, a local nats-server is started with decentralized
 * authentication), `NATS_CREDS` (the cloud's credentials for `NATS_URL`), `VEND_NATS_AUTH_DIR`
 * (the accounts' keys, for provisioning devices on a server it does not run), `NATS_CA` (the CA
 * of `NATS_URL`'s certificate), `VEND_TLS_CERT` and `VEND_TLS_KEY` (serve HTTPS), `VEND_REGION`
 * (default `local`), `VEND_API_PORT` (preferred port, default any free port), `VEND_DATA_DIR`.
 * Prints `nats: URL` and `api: URL` on stdout once serving; logs go to stderr as JSON lines.
 * `VEND_FAULT=payments:after_capture` (tests; also `after_authorize`, `_cancel`, `_refund`) kills
 * the process right after that provider call succeeded, before the session records it.
 *
 * @example
 * ```sh
 * NATS_URL=nats://127.0.0.1:4222 deno run -A cli/cloud.ts
 * ```
 *
 * @module
 */
import {
  auditNatsRefusals,
  connectNats,
  ensurePrivateCa,
  issueServerCertificate,
  NatsAccounts,
  startCloudService,
} from "../cloud/mod.ts";
import { ensureNats, LocalNats } from "../cloud/dev/mod.ts";
import { CrashingProvider, type CrashPoint } from "../cloud/testing/mod.ts";
import { onShutdown } from "../runtime/mod.ts";

if (import.meta.main) {
  const shutdown = onShutdown();
  // A stop that hangs (seen once in a fresh-clone run of the two-region demo: a cloud waited
  // after its first SIGTERM until a second) ends the process anyway, saying so.
  shutdown.addEventListener("abort", () => {
    const timer = setTimeout(() => {
      console.error("cloud: shutdown took over 20 s; exiting");
      Deno.exit(1);
    }, 20_000);
    Deno.unrefTimer(timer);
  }, { once: true });
  const port = Number(Deno.env.get("VEND_API_PORT") ?? "0");
  const fault = Deno.env.get("VEND_FAULT");
  const crash = /^payments:after_(authorize|capture|cancel|refund)$/.exec(fault ?? "");
  if (fault && !crash) {
    console.error(
      `cloud: VEND_FAULT: expected payments:after_authorize, _capture, _cancel or _refund, got "${fault}"`,
    );
    Deno.exit(2);
  }
  const crashAfter = crash?.[1] as CrashPoint | undefined;
  try {
    await using nats = await ensureNats({ signal: shutdown });
    const region = Deno.env.get("VEND_REGION") ?? "local";
    // The devices account's keys: of the server this process runs, or VEND_NATS_AUTH_DIR.
    const authDir = Deno.env.get("VEND_NATS_AUTH_DIR");
    const accounts = nats.accounts ?? (authDir ? await NatsAccounts.open(authDir) : undefined);
    // HTTPS: VEND_TLS_CERT/VEND_TLS_KEY, or a certificate of the private CA of the server this
    // process runs (the clients trust its ca.pem).
    const tls = !Deno.env.get("VEND_TLS_CERT") && nats.accounts && nats.caFile
      ? await issueServerCertificate(
        await ensurePrivateCa(nats.accounts.dir),
        `${nats.accounts.dir}/tls`,
        { name: "api" },
      )
      : undefined;
    await using svc = await startCloudService(nats, {
      region,
      ...(accounts ? { accounts } : {}),
      ...(tls ? { tls } : {}),
      port,
      signal: shutdown,
      // The crash test's fault: killed (SIGKILL) right after the provider call succeeded.
      ...(crashAfter
        ? {
          payments: {
            wrapProvider: (provider, { logger }) =>
              new CrashingProvider(provider, {
                after: crashAfter,
                crash: () => {
                  logger.log("warn", "fault: killed after a provider call", { call: crashAfter });
                  Deno.kill(Deno.pid, "SIGKILL");
                },
              }),
          },
        }
        : {}),
    });
    // What the server this process runs refuses (credentials, permissions) is audited.
    if (nats instanceof LocalNats) {
      const audit = await connectNats(nats, { name: "vendstream-nats-audit" });
      const stop = auditNatsRefusals(nats, audit, { region });
      shutdown.addEventListener("abort", () => (stop(), void audit.close()), { once: true });
    }
    console.log(`nats: ${nats.url}`);
    console.log(`api: ${svc.url}`);
    // A signal that came while the service was starting has aborted already (waiting for the
    // event then waited for a second signal).
    if (!shutdown.aborted) {
      await new Promise((resolve) => shutdown.addEventListener("abort", resolve, { once: true }));
    }
  } catch (e) {
    console.error(`cloud: ${(e as Error).message}`);
    Deno.exit(1);
  }
  // Everything is stopped (the `using`s above); a pending read of stdin (the parent watch)
  // would otherwise keep the process alive.
  Deno.exit(0);
}
