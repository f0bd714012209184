/**
 * The cloud service: connects to NATS, makes sure the region's streams exist, and serves the
 * HTTP application. Any number of instances can run side by side; they share all state in NATS.
 *
 * @example
 * ```ts
 * import { startCloudService } from "./cloud_service.ts";
 *
 * await using svc = await startCloudService("nats://127.0.0.1:4222", { region: "local" });
 * console.log(svc.url); // http://127.0.0.1:8080
 * ```
 *
 * @module
 */
import { errors, type NatsConnection } from "@nats-io/nats-core";
import { createApp } from "./app.ts";
import { ComponentRegistry, DeploymentService } from "./updates/mod.ts";
import { type CodeSender, CustomerAuth, LogCodeSender, TokenService } from "./auth/mod.ts";
import {
  FleetState,
  type IngestCounters,
  RegionSummaries,
  serveObjectCommits,
  startIngestThread,
} from "./fleet/mod.ts";
import { Metrics } from "./http/mod.ts";
import { jsonLogger, type Logger, writePrivateFile } from "../runtime/mod.ts";
import {
  connectNats,
  ensureObjectMirror,
  ensureStreams,
  natsHealth,
  type NatsTarget,
  type RegionLayout,
  SINGLE_SERVER,
  useRegionLayout,
} from "./nats/mod.ts";
import {
  KvSandboxStore,
  natsMachineUnlocker,
  PaymentService,
  PriceBook,
  serveSessionStatus,
} from "./checkout/mod.ts";
import { DeviceProvisioning, type NatsAccounts } from "./provisioning/mod.ts";
import { buckets } from "../protocol/mod.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import {
  parseSandboxFaults,
  type PaymentProvider,
  priceList,
  SandboxProvider,
  StripeProvider,
} from "../payments/mod.ts";

/** Options of {@link startCloudService}. */
export interface CloudServiceOptions {
  /** Region this instance serves. Default `"local"`. */
  region?: string;
  /**
   * In a supercluster: the region holding the global registry's originals (the others read
   * mirrors of it) and the replicas of each stream and bucket (default 3); every asset is placed
   * on its region's servers. Without it, a single server's layout.
   */
  supercluster?: { primary: string; replicas?: number };
  /** Preferred HTTP port; when taken (or 0, the default) a free port is used. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  hostname?: string;
  /** Serve HTTPS with this certificate (PEM; a full chain) and key. Default: plain HTTP. */
  tls?: { certFile: string; keyFile: string };
  /** A device silent this long is offline, ms. Default 60,000. */
  offlineAfterMs?: number;
  /** The API's address as customers reach it (the customer app's links and QR codes). */
  publicUrl?: string;
  /** How often the region's summary (`GET /regions` in every region) is written, ms. Default 5,000. */
  summaryEveryMs?: number;
  /** Logger. Default: JSON lines on stderr. */
  logger?: Logger;
  /** Stops the service when aborted. */
  signal?: AbortSignal;
  /**
   * Payments: the provider (default: Stripe with `stripe`'s key, else the sandbox provider,
   * simulated, its state in NATS), the hold in minor units (default 5,000), Stripe's webhook
   * signing secret (the webhook route is served only with one), and a wrapper of the provider
   * (`wrapProvider`). The service reads no environment: cloud_config.ts maps the program's.
   */
  payments?: {
    provider?: PaymentProvider;
    /** Pay through Stripe with this secret key (and API address, for a test double). */
    stripe?: { secretKey: string; baseUrl?: string };
    holdAmount?: number;
    reconcileEveryMs?: number;
    stripeWebhookSecret?: string;
    /**
     * Wraps the provider the service uses (`provider` or the default) in another, called once with
     * the service's logger: e.g. the fault injection of crash tests, which the caller brings.
     */
    wrapProvider?: (provider: PaymentProvider, context: { logger: Logger }) => PaymentProvider;
    /**
     * Faults of the default sandbox provider, `OPERATION:KIND[*TIMES],...`, e.g.
     * `authorize:decline` or `capture:timeout_after_success`.
     */
    sandboxFaults?: string;
    /** Stripe's publishable key (`pk_...`) for Stripe Elements in the customer app. */
    stripePublishableKey?: string;
    /** Delivers customers' one-time codes. Default: written to the log (`login code`). */
    codeSender?: CodeSender;
  };
  /**
   * The operator's and accounts' keys (the process that runs the server has them, or the
   * program's `VEND_NATS_AUTH_DIR` names their folder): with them the service provisions devices by claim,
   * renews their credentials and revokes them. Without, those routes are not served.
   */
  accounts?: NatsAccounts;
  /** Lifetime of devices' credentials, seconds. Default 30 days. */
  deviceCredentialsTtlS?: number;
}

/** A running cloud service instance. */
export interface CloudService extends AsyncDisposable {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The instance's NATS connection. */
  readonly nc: NatsConnection;
  /** The fleet state (buckets and replicas). */
  readonly state: FleetState;
  /** Issues and checks operator tokens. */
  readonly tokens: TokenService;
  /** The payment service. */
  readonly payments: PaymentService;
  /** Customers' sign-in (the customer app). */
  readonly customerAuth: CustomerAuth;
  /** The heartbeat and telemetry ingest (on its own thread); its counters. */
  readonly ingest: { readonly counters: IngestCounters };
  /** Stops serving and closes the NATS connection. */
  stop(): Promise<void>;
}

function listen(
  handler: Deno.ServeHandler,
  hostname: string,
  port: number,
  signal: AbortSignal,
  tls: { cert: string; key: string } | undefined,
): Deno.HttpServer<Deno.NetAddr> {
  const serve = (p: number) =>
    Deno.serve({ hostname, port: p, signal, handler, onListen: () => {}, ...(tls ?? {}) });
  if (port === 0) return serve(0);
  try {
    return serve(port);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return serve(0);
    throw e;
  }
}

/**
 * Connects to NATS at `nats` (a URL, or a URL with the cloud's credentials file), ensures the
 * region's streams and serves the API.
 */
export async function startCloudService(
  nats: string | NatsTarget,
  options: CloudServiceOptions = {},
): Promise<CloudService> {
  const region = options.region ?? "local";
  const logger = options.logger ?? jsonLogger("cloud");
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot serve the API on port ${port}: expected 0-65535`);
  }
  const tlsFiles = options.tls;
  let tls: { cert: string; key: string } | undefined;
  if (tlsFiles) {
    try {
      tls = {
        cert: await Deno.readTextFile(tlsFiles.certFile),
        key: await Deno.readTextFile(tlsFiles.keyFile),
      };
    } catch (cause) {
      throw new TypeError(
        `Cannot serve HTTPS: cannot read "${tlsFiles.certFile}" or "${tlsFiles.keyFile}": ${
          (cause as Error).message
        }`,
        { cause },
      );
    }
  }
  const target: NatsTarget = typeof nats === "string" ? { url: nats } : nats;
  const natsUrl = target.url;
  const nc = await connectNats(target, {
    name: `vendstream-cloud-${region}`,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const primary = options.supercluster?.primary;
  const layout: RegionLayout = primary
    ? {
      region,
      primary,
      replicas: options.supercluster?.replicas ?? 3,
      placement: true,
    }
    : { ...SINGLE_SERVER, region, primary: region };
  try {
    useRegionLayout(nc, layout);
    const streams = await ensureStreams(nc, region);
    logger.log("info", "streams ready", { region, streams });
  } catch (e) {
    await nc.close();
    throw e;
  }
  const state = await FleetState.open(nc, { logger });
  const tokens = await TokenService.open(state.service);
  const offlineAfterMs = options.offlineAfterMs ?? 60_000;
  if (!Number.isInteger(offlineAfterMs) || offlineAfterMs < 500) {
    throw new RangeError(
      `Invalid offline timeout ${offlineAfterMs} ms: expected an integer of at least 500`,
    );
  }
  const ingest = await startIngestThread(target, { region, offlineAfterMs, layout });
  const metrics = new Metrics();
  for (
    const [name, help] of Object.entries({
      heartbeats: "Heartbeats ingested",
      telemetry: "Telemetry reports ingested",
      invalid: "Messages refused by their schema",
      statusWrites: "Device status writes to KV",
      offlineMarked: "Devices marked offline",
      alertsRaised: "Alerts raised",
    })
  ) {
    metrics.gauge(
      `vend_ingest_${name.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)}_total`,
      help,
      () => ingest.counters[name as keyof typeof ingest.counters],
    );
  }
  metrics.gauge(
    "vend_ingest_queued_writes",
    "Status writes waiting for the KV store",
    () => ingest.counters.queuedWrites,
  );
  metrics.gauge("vend_devices_known", "Devices with a status", () => state.statuses.size);
  const registry = await ComponentRegistry.open(nc, { logger });
  const deployments = await DeploymentService.open(nc, {
    region,
    logger,
    regional: layout.placement,
    artifactsStream: await ensureObjectMirror(nc, buckets.artifacts),
    jsm: await jetstreamManager(nc),
    devices: () =>
      [...state.devices.entries()].map(([id, e]) => ({
        id,
        region: e.value.region,
        tags: e.value.tags,
        groups: e.value.groups,
      })),
  });
  const stopDeployments = new AbortController();
  await serveObjectCommits(nc, { region, logger, signal: stopDeployments.signal });
  await serveSessionStatus(nc, { region, logger, signal: stopDeployments.signal });
  const rollouts = deployments.run(nc, stopDeployments.signal).catch((e) =>
    logger.log("error", "deployments stopped", { error: String(e) })
  );
  const stripe = options.payments?.stripe;
  const chosen = options.payments?.provider ??
    (stripe
      ? new StripeProvider({
        apiKey: stripe.secretKey,
        ...(stripe.baseUrl ? { baseUrl: stripe.baseUrl } : {}),
      })
      : new SandboxProvider(await KvSandboxStore.open(nc), {
        faults: parseSandboxFaults(options.payments?.sandboxFaults ?? ""),
      }));
  const wrap = options.payments?.wrapProvider;
  const provider = wrap ? wrap(chosen, { logger }) : chosen;
  const stripePublishableKey = options.payments?.stripePublishableKey;
  const stripeWebhookSecret = options.payments?.stripeWebhookSecret;
  // Every region's counts, for a fleet-wide view from any region.
  const summaries = await RegionSummaries.open(nc, {
    region,
    statuses: () => Array.from(state.statuses.entries(), ([, e]) => e.value),
    homeOf: (deviceId) => state.devices.get(deviceId)?.value.region,
    ...(options.summaryEveryMs ? { everyMs: options.summaryEveryMs } : {}),
    logger,
  });
  // The catalogue's prices are the default list until an operator writes one.
  const prices = await PriceBook.open(nc, { seed: priceList(DEFAULT_CATALOGUE), logger });
  const payments = await PaymentService.open(nc, {
    logger,
    region,
    provider,
    prices,
    unlocker: natsMachineUnlocker(nc, state, { region, logger }),
    ...(options.payments?.holdAmount ? { holdAmount: options.payments.holdAmount } : {}),
  });
  const customerAuth = await CustomerAuth.open(nc, {
    payments,
    logger,
    sender: options.payments?.codeSender ?? new LogCodeSender(logger),
  });
  const stopPayments = new AbortController();
  const paying = payments.run(stopPayments.signal).catch((e) =>
    logger.log("error", "payments stopped", { error: String(e) })
  );
  const reconciling = (async () => {
    const every = options.payments?.reconcileEveryMs ?? 10_000;
    while (!stopPayments.signal.aborted) {
      await new Promise((r) => {
        const t = setTimeout(r, every);
        stopPayments.signal.addEventListener("abort", () => (clearTimeout(t), r(null)), {
          once: true,
        });
      });
      if (stopPayments.signal.aborted) break;
      // A round that failed is said (and counted), not read as "nothing to do": next round again.
      try {
        const moved = await payments.reconcile();
        if (moved > 0) logger.log("info", "payment sessions reconciled", { moved });
      } catch (e) {
        metrics.inc(
          "vend_payment_reconcile_failures_total",
          "Payment reconcile rounds that failed",
        );
        logger.log("error", "payment reconcile failed", { error: String(e) });
      }
    }
  })();
  let provisioning: DeviceProvisioning | undefined;
  let system: NatsConnection | undefined;
  if (options.accounts) {
    // Revocations are pushed to the servers through the system account.
    const systemCreds = `${options.accounts.dir}/system.creds`;
    const sys = await options.accounts.userCredentials("system", `cloud-${region}`);
    await writePrivateFile(systemCreds, sys.creds!);
    system = await connectNats({ ...target, credentialsFile: systemCreds }, {
      name: `vendstream-provisioning-${region}`,
    });
    provisioning = await DeviceProvisioning.open(nc, options.accounts, {
      region,
      system,
      logger,
      ...(options.deviceCredentialsTtlS ? { credentialsTtlS: options.deviceCredentialsTtlS } : {}),
    });
    await provisioning.serve({ signal: stopDeployments.signal });
  }
  const app = createApp({
    health: () => natsHealth(nc),
    logger,
    metrics,
    fleet: {
      nc,
      state,
      tokens,
      logger,
      region,
      registry,
      deployments,
      payments,
      prices,
      summaries,
      customerAuth,
      ...(provisioning ? { provisioning } : {}),
      ...(stripeWebhookSecret ? { stripeWebhookSecret } : {}),
      ...(stripePublishableKey ? { stripePublishableKey } : {}),
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    },
  });
  const stopServer = new AbortController();
  const server = listen(
    app.fetch,
    options.hostname ?? "127.0.0.1",
    port,
    stopServer.signal,
    tls,
  );
  const url = `${tls ? "https" : "http"}://${server.addr.hostname}:${server.addr.port}`;
  logger.log("info", "api listening", { url, nats: natsUrl, region });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      stopServer.abort();
      await server.finished;
      stopDeployments.abort();
      await rollouts;
      stopPayments.abort();
      // A consumer waiting on a server that is gone does not hold the stop up.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([paying, reconciling]),
        new Promise((r) => (timer = setTimeout(r, 2000))),
      ]);
      clearTimeout(timer);
      await deployments[Symbol.asyncDispose]();
      await prices[Symbol.asyncDispose]();
      await summaries[Symbol.asyncDispose]();
      await ingest.stop();
      await state[Symbol.asyncDispose]();
      // Stopping goes on whatever one connection says; what it said is logged.
      await system?.close().catch((e) =>
        logger.log("warn", "closing the system account connection failed", { error: String(e) })
      );
      await nc.drain().catch((e) => {
        // Closed already (the server went away): nothing to drain. Anything else is said.
        if (!(e instanceof errors.ClosedConnectionError)) {
          logger.log("warn", "draining the NATS connection failed; closing it", {
            error: String(e),
          });
        }
        return nc.close();
      });
    })();
  options.signal?.addEventListener(
    "abort",
    () => stop().catch((e) => logger.log("error", "stopping failed", { error: String(e) })),
    { once: true },
  );
  return {
    url,
    nc,
    state,
    tokens,
    ingest,
    payments,
    customerAuth,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
