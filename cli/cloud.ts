/**
 * The cloud service program: the process `./vend demo`, the benchmarks and the tests run, one per
 * region. It wraps cloud/'s `startCloudService` with what development needs: a local nats-server
 * when none is configured (cloud/dev/) and crash injection for tests (cloud/testing/).
 *
 * Its environment is read and validated by cloud/cloud_config.ts (see the variables there): a bad
 * value is refused with exit code 2, naming it. Without `NATS_URL` a local nats-server is started
 * with decentralized authentication (and the API served over HTTPS with a certificate of its
 * private CA, unless `VEND_TLS_CERT` and `VEND_TLS_KEY` name one). Prints `nats: URL` and
 * `api: URL` on stdout once serving; logs go to stderr as JSON lines.
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
  type CloudConfig,
  CloudConfigError,
  cloudServiceOptions,
  connectNats,
  loadCloudConfig,
  startCloudService,
} from "../cloud/mod.ts";
import {
  auditNatsRefusals,
  ensurePrivateCa,
  issueServerCertificate,
  NatsAccounts,
} from "../cloud/provisioning/mod.ts";
import { ensureNats, LocalNats } from "../cloud/dev/mod.ts";
import { CrashingProvider, type CrashPoint } from "../cloud/testing/mod.ts";
import { jsonLogger, onShutdown } from "../runtime/mod.ts";

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
  let config: CloudConfig;
  try {
    config = loadCloudConfig(Deno.env.toObject());
  } catch (e) {
    if (!(e instanceof CloudConfigError)) throw e;
    console.error(`cloud: ${e.message}`);
    Deno.exit(2);
  }
  const crashAfter = config.VEND_FAULT?.slice("payments:after_".length) as CrashPoint | undefined;
  try {
    await using nats = await ensureNats({
      signal: shutdown,
      ...(config.NATS_URL ? { url: config.NATS_URL } : {}),
      ...(config.NATS_CREDS ? { credentialsFile: config.NATS_CREDS } : {}),
      ...(config.NATS_CA ? { caFile: config.NATS_CA } : {}),
    });
    const options = cloudServiceOptions(config);
    const region = config.VEND_REGION;
    // The devices account's keys: of the server this process runs, or VEND_NATS_AUTH_DIR.
    const authDir = config.VEND_NATS_AUTH_DIR;
    const accounts = nats.accounts ?? (authDir ? await NatsAccounts.open(authDir) : undefined);
    // HTTPS: VEND_TLS_CERT/VEND_TLS_KEY, or a certificate of the private CA of the server this
    // process runs (the clients trust its ca.pem).
    const tls = options.tls ?? (nats.accounts && nats.caFile
      ? await issueServerCertificate(
        await ensurePrivateCa(nats.accounts.dir),
        `${nats.accounts.dir}/tls`,
        { name: "api" },
      )
      : undefined);
    await using svc = await startCloudService(nats, {
      ...options,
      ...(accounts ? { accounts } : {}),
      ...(tls ? { tls } : {}),
      signal: shutdown,
      // The crash test's fault: killed (SIGKILL) right after the provider call succeeded.
      ...(crashAfter
        ? {
          payments: {
            ...options.payments,
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
      const stop = auditNatsRefusals(nats, audit, { region, logger: jsonLogger("cloud") });
      const close = () =>
        audit.close().catch((e) => console.error(`cloud: closing the audit connection: ${e}`));
      shutdown.addEventListener("abort", () => (stop(), void close()), { once: true });
    }
    console.log(`nats: ${nats.url}`);
    console.log(`api: ${svc.url}`);
    // A signal that came while the service was starting has aborted already (waiting for the
    // event then waited for a second signal).
    if (!shutdown.aborted) {
      await new Promise((resolve) => shutdown.addEventListener("abort", resolve, { once: true }));
    }
  } catch (e) {
    // Stopped while starting (connecting, provisioning the streams): what was cut short by the
    // stop is not a failure; the `using`s above have closed what had started.
    if (shutdown.aborted) {
      console.error(`cloud: stopped while starting (${(e as Error).message})`);
      Deno.exit(0);
    }
    console.error(`cloud: ${(e as Error).message}`);
    Deno.exit(1);
  }
  // Everything is stopped (the `using`s above); a pending read of stdin (the parent watch)
  // would otherwise keep the process alive.
  Deno.exit(0);
}
