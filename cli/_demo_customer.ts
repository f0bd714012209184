/**
 * The demo customer: pays with a sandbox token (simulated provider) at every machine in turn,
 * and the receipts and reviews of every session printed as they come.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { filters, parsePaymentEvent } from "../protocol/mod.ts";
import type { DemoApi } from "./_demo_api.ts";

/** Where the demo customer shops. */
export interface CustomerOptions {
  /** The machines' ids. */
  readonly ids: string[];
  /** Each region's API URL. */
  readonly apis: Map<string, string>;
  /** Each machine's home region. */
  readonly homeOf: (machineId: string) => string;
  /** Seconds between rounds of sessions. */
  readonly sessionEvery: number;
  /** True: no sessions are started (the machines wait for people); receipts are still printed. */
  readonly noCustomer: boolean;
}

/** The running customer; `stop` ends its rounds and the receipts' subscription. */
export interface RunningCustomer {
  /** Stops the rounds and unsubscribes from the receipts. */
  stop(): void;
}

/** Prints `receipt: SESSION TOTAL` and `review: SESSION REASONS` as payment events come. */
function printReceipts(nc: NatsConnection) {
  const receipts = nc.subscribe(filters.payments());
  (async () => {
    for await (const m of receipts) {
      const e = parsePaymentEvent(m.data);
      if (e.ok && e.value.type === "receipt_issued") {
        console.log(`receipt: ${e.value.sessionId} ${e.value.total}`);
      } else if (e.ok && e.value.type === "review_required") {
        console.log(`review: ${e.value.sessionId} ${e.value.reasons.join("; ")}`);
      }
    }
  })().catch((e) => console.error(`demo: receipts: ${(e as Error).message}`));
  return receipts;
}

/**
 * Creates the demo customer with a sandbox payment method, prints the receipts, and (without
 * `noCustomer`) starts a session at each machine every `sessionEvery` seconds, the first round
 * at once. A machine is unlocked once the cloud has heard from its primary, and one customer at
 * a time: the next session starts when the previous one is over.
 */
export async function startCustomer(
  api: DemoApi,
  nc: NatsConnection,
  options: CustomerOptions,
): Promise<RunningCustomer> {
  const { ids, apis, homeOf } = options;
  const customer = await api.call("/customers", { email: "demo@example.com" });
  await api.call(`/customers/${customer.customerId}/payment-methods`, {
    token: "pm_sandbox_visa",
  });
  const receipts = printReceipts(nc);
  const last = new Map<string, string>();
  const shop = async () => {
    for (const machineId of ids) {
      const base = apis.get(homeOf(machineId))!;
      const status = (await api.get(`/devices/${machineId}-a`, base))?.status;
      const online = status?.status === "online" && status?.door === "closed";
      const previous = last.get(machineId);
      const busy = previous &&
        ["started", "held", "unlocked", "capturing"].includes(
          (await api.get(`/payments/sessions/${previous}`, base))?.state,
        );
      if (!online || busy) continue;
      const started = await api.call("/payments/sessions", {
        customerId: customer.customerId,
        machineId,
      }, base);
      last.set(machineId, started.sessionId);
      if (started.state !== "unlocked") {
        console.error(`demo: a session at ${machineId} is ${started.state}: ${started.failure}`);
      }
    }
  };
  // With --no-customer the machines wait for people (the customer app at `app:`).
  const shopping = options.noCustomer ? undefined : setInterval(
    () => void shop().catch((e) => console.error(`demo: ${(e as Error).message}`)),
    options.sessionEvery * 1000,
  );
  if (shopping) await shop().catch((e) => console.error(`demo: ${(e as Error).message}`));
  return {
    stop() {
      clearInterval(shopping);
      receipts.unsubscribe();
    },
  };
}
