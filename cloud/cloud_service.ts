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
import type { NatsConnection } from "@nats-io/nats-core";
import { type CodeSender, type CustomerAuth, TokenService } from "./auth/mod.ts";
import {
  DeviceFeeds,
  FleetState,
  type IngestCounters,
  type PlanogramBook,
  PlanogramPush,
  RegionSummaries,
} from "./fleet/mod.ts";
import { type FleetDeps, Metrics } from "./http/mod.ts";
import { jsonLogger, type Logger } from "../runtime/mod.ts";
import type { NatsTarget } from "./nats/mod.ts";
import { type PaymentService, type ReviewRateAlert, SessionFeed } from "./checkout/mod.ts";
import type { ClipRetentionPolicy } from "./datasets/mod.ts";
import type { NatsAccounts } from "./provisioning/mod.ts";
import type { PaymentProvider } from "../payments/mod.ts";
import { apiPort, readTls } from "./_service_listen.ts";
import { serveApi } from "./_service_api.ts";
import { domainMounts } from "./_service_mounts.ts";
import { openRegion } from "./_service_nats.ts";
import { countIngest, startIngest } from "./_service_ingest.ts";
import { openUpdates } from "./_service_updates.ts";
import { choosePaymentProvider, startCheckout } from "./_service_checkout.ts";
import { type Provisioning, startProvisioning } from "./_service_provisioning.ts";
import { startRegionServices } from "./_service_region_services.ts";
import { shutdown } from "./_service_shutdown.ts";

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
    /** When a machine's review rate raises an alert. Default above 10% of 10 or more sessions in 24 h. */
    reviewRateAlert?: ReviewRateAlert;
    /** How long sessions' clips are kept, days (default 30; held by a review or dispute 365). */
    clipRetention?: ClipRetentionPolicy;
    /** How often retention sweeps the clips, ms. Default an hour. */
    retentionSweepMs?: number;
    /** How often shadow deployments are scored (and promoted or stopped), ms. Default 15 s. */
    shadowJudgeMs?: number;
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
  /** The machines' planograms. */
  readonly planograms: PlanogramBook;
  /** Stops serving and closes the NATS connection. */
  stop(): Promise<void>;
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
  const port = apiPort(options.port);
  const tls = await readTls(options.tls);
  const { target, nc, layout } = await openRegion(nats, {
    region,
    supercluster: options.supercluster,
    signal: options.signal,
    logger,
  });
  const state = await FleetState.open(nc, { logger });
  const tokens = await TokenService.open(state.service);
  const ingest = await startIngest(target, {
    region,
    offlineAfterMs: options.offlineAfterMs ?? 60_000,
    layout,
  });
  const metrics = new Metrics();
  countIngest(metrics, { ingest, state });
  const { registry, deployments } = await openUpdates(nc, {
    region,
    logger,
    regional: layout.placement,
    state,
  });
  // The NATS services and rollouts; they stop once the server has.
  const services = await startRegionServices(nc, { region, logger, deployments });
  const provider = await choosePaymentProvider(nc, { choice: options.payments, logger });
  // Every region's counts, for a fleet-wide view from any region.
  const summaries = await RegionSummaries.open(nc, {
    region,
    statuses: () => Array.from(state.statuses.entries(), ([, e]) => e.value),
    homeOf: (deviceId) => state.devices.get(deviceId)?.value.region,
    ...(options.summaryEveryMs ? { everyMs: options.summaryEveryMs } : {}),
    logger,
  });
  // The hold, code sender, reconcile rounds and review alert of `payments`; the provider chosen.
  const checkout = await startCheckout(nc, {
    ...options.payments,
    provider,
    state,
    region,
    logger,
    metrics,
    deployments,
  });
  const { prices, payments, customerAuth, planograms, fieldDataset } = checkout;
  const planogramPush = await PlanogramPush.start(nc, { region, book: planograms, state, logger });
  const provisioned: Provisioning | undefined = options.accounts
    ? await startProvisioning(nc, {
      target,
      accounts: options.accounts,
      region,
      logger,
      credentialsTtlS: options.deviceCredentialsTtlS,
      signal: services.signal,
    })
    : undefined;
  const provisioning = provisioned?.provisioning;
  const fleet: FleetDeps = {
    nc,
    state,
    tokens,
    logger,
    region,
    deviceFeeds: new DeviceFeeds(nc, region, { logger }),
    sessionFeed: new SessionFeed(nc, region, { logger }),
    summaries,
  };
  const mounts = domainMounts(fleet, {
    registry,
    deployments,
    payments,
    prices,
    planograms,
    fieldDataset,
    customerAuth,
    provisioning,
    stripeWebhookSecret: options.payments?.stripeWebhookSecret,
    stripePublishableKey: options.payments?.stripePublishableKey,
    publicUrl: options.publicUrl,
  });
  const { url, server, stopServer } = serveApi(fleet, {
    mounts,
    logger,
    metrics,
    hostname: options.hostname ?? "127.0.0.1",
    port,
    tls,
    natsUrl: target.url,
  });
  const stop = shutdown({
    stopServer,
    server,
    services,
    checkout: checkout.tasks,
    disposables: [planogramPush, deployments, prices, summaries, planograms],
    ingest,
    state,
    system: provisioned?.system,
    nc,
    logger,
  }, { signal: options.signal });
  return {
    url,
    nc,
    state,
    tokens,
    ingest,
    payments,
    customerAuth,
    planograms,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
