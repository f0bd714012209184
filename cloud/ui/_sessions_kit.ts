/**
 * What the dashboard's payment pages share: how money, carts and times are written, the live
 * trigger (a payment event in the region, from the session feed), and a missing session read as
 * none. Imported only by the sessions pages.
 *
 * @module
 */
import type { PaymentDeps } from "../http/mod.ts";
import { PaymentNotFoundError } from "../checkout/mod.ts";

/** The route pattern of a payment session's id. */
export const ID = "[A-Za-z0-9][A-Za-z0-9_-]{7,63}";

/** `"4.30 EUR"`, or `-` for none. */
export const money = (minor: number | null, currency: string): string =>
  minor === null ? "-" : `${(minor / 100).toFixed(2)} ${currency}`;
/** `"2× COLA, 1× WATER"`, `empty`, or `-` for none. */
export const cartText = (cart: readonly { sku: string; qty: number }[] | null): string =>
  cart?.length ? cart.map((l) => `${l.qty}× ${l.sku}`).join(", ") : cart ? "empty" : "-";
/** The time of day (UTC) of `ms`, or `-` for none. */
export const time = (ms: number | null): string =>
  ms ? new Date(ms).toISOString().slice(11, 19) : "-";

/**
 * Calls `dirty` on every payment event published in the region (of `sessionId` only, when given);
 * returns the unsubscription. Both pages change on them (coalesced to 2/s by the live stream).
 */
export function onPayments(
  deps: PaymentDeps,
  dirty: () => void,
  { sessionId }: { readonly sessionId?: string } = {},
): () => void {
  return deps.sessionFeed.onEvents(() => dirty(), sessionId ? { sessionId } : {});
}

/** No such session reads as undefined (a 404, an empty fragment); any other failure throws. */
export function notFound(e: unknown): undefined {
  if (e instanceof PaymentNotFoundError) return undefined;
  throw e;
}
