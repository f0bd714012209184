/**
 * Selling at a machine: payment sessions from unlock to charge, price lists, review, refunds and
 * disputes, field accuracy per machine and model, the session status devices ask for, the sandbox provider's store, unlocking a
 * machine.
 *
 * @example
 * ```ts
 * import { PaymentService } from "./mod.ts";
 *
 * console.log(typeof PaymentService);
 * ```
 *
 * @module
 */
export {
  type AccuracyCounts,
  type AccuracyHour,
  type AccuracyReport,
  countsOf,
  FieldAccuracy,
  type FieldAccuracyOptions,
  modelKey,
  type ReviewRateAlert,
} from "./field_accuracy.ts";
export { KvSandboxStore } from "./kv_sandbox_store.ts";
export { type SessionCabinet, sessionCabinet } from "./_session_clips.ts";
export { natsMachineUnlocker, type NatsMachineUnlockerOptions } from "./machine_unlocker.ts";
export {
  checkPaymentBooks,
  type Customer,
  EMAIL,
  type MachineUnlocker,
  PaymentConflictError,
  type PaymentMethod,
  PaymentNotFoundError,
  PaymentService,
  type PaymentServiceOptions,
  type PaymentSessionDetail,
  PHONE,
  PriceMismatchError,
  type SessionClip,
} from "./payment_service.ts";
export {
  DEFAULT_PRICE_LIST,
  fixedPrices,
  type MachinePrices,
  PriceBook,
  type PriceBookOptions,
  PriceListError,
  type PriceListInput,
  PriceListInputSchema,
  PriceListNotFoundError,
  type PriceListRef,
  type PriceSource,
  type StoredPriceList,
} from "./price_book.ts";
export { SessionFeed, type SessionFeedOptions } from "./session_feed.ts";
export { serveSessionStatus } from "./session_status.ts";
