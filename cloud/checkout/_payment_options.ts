/**
 * What the payment service is given: its options, and the seam that opens a machine's door.
 *
 * @module
 */
import type { PaymentProvider } from "../../payments/mod.ts";
import type { Logger } from "../../runtime/mod.ts";
import type { PriceSource } from "./price_book.ts";

/** Opens a machine's door for a payment session: the cloud's command to its primary device. */
export interface MachineUnlocker {
  /** Sends the unlock; resolves once the device accepted it, rejects when it did not. */
  unlock(machineId: string, sessionId: string): Promise<{ deviceId: string; commandId: string }>;
}

/** Options of {@link PaymentService.open}. */
export interface PaymentServiceOptions {
  readonly region: string;
  readonly provider: PaymentProvider;
  /** What each machine sells, at what price: a {@link PriceBook}, or `fixedPrices(list)`. */
  readonly prices: PriceSource;
  readonly unlocker: MachineUnlocker;
  /** The authorization hold: the most a session can cost, minor units. Default 5,000. */
  readonly holdAmount?: number;
  /** Provider calls that found it unavailable are tried this many times. Default 3. */
  readonly attempts?: number;
  /** Wait between those tries, ms (doubling). Default 100. */
  readonly retryDelayMs?: number;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Door-session outcomes handled at once by {@link PaymentService.run}. Default 32. */
  readonly concurrency?: number;
  /** Where refused carts are logged. */
  readonly logger?: Logger;
  /**
   * A review not done in this long is settled by policy: `charge_sure_items` captures the
   * device's cart lines it was at least `sureAbove` sure of and releases the rest; `release`
   * charges nothing. Default 24 h, `charge_sure_items`, 0.95.
   */
  readonly reviewTimeout?: {
    readonly afterMs?: number;
    readonly policy?: "charge_sure_items" | "release";
    readonly sureAbove?: number;
  };
  /** When a machine's review rate raises an alert (field_accuracy.ts). */
  readonly reviewRateAlert?: ReviewRateAlert;
}

import type { ReviewRateAlert } from "./field_accuracy.ts";

/** The service's clock: `options.now`, else `Date.now`. */
export function clockOf(options: PaymentServiceOptions): () => number {
  return () => (options.now ?? Date.now)();
}
