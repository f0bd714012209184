/**
 * Checkout's composition: the payment provider chosen from the options, the price book, the
 * payment service, customers' sign-in, and their tasks (payment processing, reconcile rounds).
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { type CodeSender, CustomerAuth, LogCodeSender } from "./auth/mod.ts";
import {
  KvSandboxStore,
  natsMachineUnlocker,
  PaymentService,
  PriceBook,
  type ReviewRateAlert,
} from "./checkout/mod.ts";
import { type FleetState, PlanogramBook } from "./fleet/mod.ts";
import {
  ClipRetention,
  type ClipRetentionPolicy,
  FieldDataset,
  FieldSamples,
} from "./datasets/mod.ts";
import type { Metrics } from "./http/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import {
  parseSandboxFaults,
  type PaymentProvider,
  priceList,
  SandboxProvider,
  StripeProvider,
} from "../payments/mod.ts";
import { TaskGroup } from "./_service_tasks.ts";
import { type DeploymentService, runShadowJudge } from "./updates/mod.ts";

/** How the provider is chosen (the service's `payments` options). */
export interface ProviderChoice {
  /** The provider; without it, Stripe with `stripe`, else the sandbox. */
  provider?: PaymentProvider | undefined;
  /** Stripe's secret key and API address. */
  stripe?: { secretKey: string; baseUrl?: string } | undefined;
  /** The sandbox provider's faults. */
  sandboxFaults?: string | undefined;
  /** Wraps the chosen provider. */
  wrapProvider?:
    | ((provider: PaymentProvider, context: { logger: Logger }) => PaymentProvider)
    | undefined;
}

/**
 * The provider the service pays through: `provider`, else Stripe with `stripe`'s key, else the
 * sandbox provider (its state in NATS, with `sandboxFaults`); wrapped by `wrapProvider` if given.
 */
export async function choosePaymentProvider(
  nc: NatsConnection,
  { choice, logger }: { choice: ProviderChoice | undefined; logger: Logger },
): Promise<PaymentProvider> {
  const stripe = choice?.stripe;
  const chosen = choice?.provider ??
    (stripe
      ? new StripeProvider({
        apiKey: stripe.secretKey,
        ...(stripe.baseUrl ? { baseUrl: stripe.baseUrl } : {}),
      })
      : new SandboxProvider(await KvSandboxStore.open(nc), {
        faults: parseSandboxFaults(choice?.sandboxFaults ?? ""),
      }));
  const wrap = choice?.wrapProvider;
  return wrap ? wrap(chosen, { logger }) : chosen;
}

/** What {@link openCheckout} opened. */
export interface Checkout {
  /** The price lists. */
  readonly prices: PriceBook;
  /** The payment service. */
  readonly payments: PaymentService;
  /** Customers' sign-in. */
  readonly customerAuth: CustomerAuth;
  /** The machines' planograms (what each session is decided by). */
  readonly planograms: PlanogramBook;
  /** The field samples, labelled by the sessions' outcomes. */
  readonly fieldDataset: FieldDataset;
  /** Payment processing and the reconcile rounds, running until the group stops. */
  readonly tasks: TaskGroup;
}

/**
 * Opens the price book (the catalogue's prices until an operator writes a list), the payment
 * service over `provider` (unlocking machines over NATS) and customers' sign-in, then runs the
 * payment service (`payments stopped` if it fails) and reconciles every `reconcileEveryMs`.
 */
export async function startCheckout(
  nc: NatsConnection,
  { provider, state, region, logger, metrics, holdAmount, codeSender, reconcileEveryMs, ...more }: {
    provider: PaymentProvider;
    state: FleetState;
    region: string;
    logger: Logger;
    metrics: Metrics;
    holdAmount?: number | undefined;
    codeSender?: CodeSender | undefined;
    reconcileEveryMs?: number | undefined;
    reviewRateAlert?: ReviewRateAlert | undefined;
    clipRetention?: ClipRetentionPolicy | undefined;
    retentionSweepMs?: number | undefined;
    /** Its shadow deployments are scored against the field dataset's reviewed sessions. */
    deployments?: DeploymentService | undefined;
    shadowJudgeMs?: number | undefined;
  },
): Promise<Checkout> {
  // The catalogue's prices are the default list until an operator writes one.
  const prices = await PriceBook.open(nc, { seed: priceList(DEFAULT_CATALOGUE), logger });
  const payments = await PaymentService.open(nc, {
    logger,
    region,
    provider,
    prices,
    unlocker: natsMachineUnlocker(nc, state, { region, logger }),
    ...(holdAmount ? { holdAmount } : {}),
    ...(more.reviewRateAlert ? { reviewRateAlert: more.reviewRateAlert } : {}),
  });
  const customerAuth = await CustomerAuth.open(nc, {
    payments,
    logger,
    sender: codeSender ?? new LogCodeSender(logger),
  });
  const tasks = new TaskGroup();
  tasks.add(
    payments.run(tasks.signal).catch((e) =>
      logger.log("error", "payments stopped", { error: String(e) })
    ),
  );
  tasks.add(reconcileRounds(payments, {
    everyMs: reconcileEveryMs ?? 10_000,
    signal: tasks.signal,
    metrics,
    logger,
  }));
  const planograms = await PlanogramBook.open(nc);
  const fieldDataset = await startFieldDataset(nc, {
    region,
    logger,
    payments,
    planograms,
    tasks,
    retention: more.clipRetention ?? { days: 30, heldDays: 365 },
    sweepEveryMs: more.retentionSweepMs,
  });
  if (more.deployments) {
    // The shadow candidates, promoted or stopped once enough of their sessions are reviewed.
    tasks.add(runShadowJudge(more.deployments, tasks.signal, {
      score: (q) => fieldDataset.compareShadow(q),
      logger,
      everyMs: more.shadowJudgeMs ?? 15_000,
    }));
  }
  return { prices, payments, customerAuth, planograms, fieldDataset, tasks };
}

/**
 * Opens the field samples and their dataset, and runs (in `tasks`) the consumer that builds the
 * samples and the clips' retention sweeps.
 */
async function startFieldDataset(
  nc: NatsConnection,
  { region, logger, payments, planograms, tasks, retention, sweepEveryMs }: {
    region: string;
    logger: Logger;
    payments: PaymentService;
    planograms: PlanogramBook;
    tasks: TaskGroup;
    retention: ClipRetentionPolicy;
    sweepEveryMs?: number | undefined;
  },
): Promise<FieldDataset> {
  const samples = await FieldSamples.open(nc, { region, retention, logger });
  tasks.add(
    samples.run(tasks.signal).catch((e) =>
      logger.log("error", "field samples stopped", { error: String(e) })
    ),
  );
  const sweeper = new ClipRetention(nc, samples, { region, sessions: payments, logger });
  tasks.add(sweeper.run(tasks.signal, sweepEveryMs ? { everyMs: sweepEveryMs } : {}));
  return new FieldDataset({
    samples,
    sessions: payments,
    planograms,
    skusOf: async (machineId) => new Set((await payments.pricesFor(machineId)).items.keys()),
  });
}

/**
 * Reconciles payment sessions every `everyMs` until `signal` aborts; a round that moved some is
 * logged (`payment sessions reconciled`), one that failed is logged and counted.
 */
async function reconcileRounds(
  payments: PaymentService,
  { everyMs, signal, metrics, logger }: {
    everyMs: number;
    signal: AbortSignal;
    metrics: Metrics;
    logger: Logger;
  },
): Promise<void> {
  while (!signal.aborted) {
    await new Promise((r) => {
      const t = setTimeout(r, everyMs);
      signal.addEventListener("abort", () => (clearTimeout(t), r(null)), {
        once: true,
      });
    });
    if (signal.aborted) break;
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
}
