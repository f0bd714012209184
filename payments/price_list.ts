/**
 * A machine's price list, from the product catalogue, and the pricing of a cart: each line's unit
 * price and total, and the cart's total, all integers in minor units of one currency. A SKU the
 * list does not have is refused with {@link UnknownSkuError} (a cart is never priced by guess).
 *
 * @example
 * ```ts
 * import { DEFAULT_CATALOGUE } from "../models/mod.ts";
 * import { priceCart, priceList } from "./price_list.ts";
 *
 * const list = priceList(DEFAULT_CATALOGUE);
 * const { total, lines } = priceCart([{ sku: "COLA-330", qty: 2 }], list);
 * console.log(total, lines[0]?.unitPrice);
 * ```
 *
 * @module
 */
import type { Catalogue } from "../models/mod.ts";

/** What a machine sells, at what price. */
export interface PriceList {
  readonly currency: string;
  /** SKU to name and unit price (minor units). */
  readonly items: ReadonlyMap<string, { readonly name: string; readonly unitPrice: number }>;
  /** The catalogue version the prices come from. */
  readonly version: string;
}

/** A priced cart line (a receipt line). */
export interface PricedLine {
  readonly sku: string;
  readonly name: string;
  readonly qty: number;
  readonly unitPrice: number;
  readonly total: number;
}

/** A cart names a SKU the price list does not have. */
export class UnknownSkuError extends Error {
  /** The SKU. */
  readonly sku: string;
  /** Creates the error. */
  constructor(sku: string) {
    super(`Unknown SKU "${sku}": not in the machine's price list`);
    this.name = "UnknownSkuError";
    this.sku = sku;
  }
}

/** The price list of a catalogue (optionally only some SKUs, a machine's planogram). */
export function priceList(
  catalogue: Catalogue,
  options: { skus?: readonly string[] } = {},
): PriceList {
  const wanted = options.skus ? new Set(options.skus) : undefined;
  const items = new Map<string, { name: string; unitPrice: number }>();
  for (const item of catalogue.items) {
    if (!wanted || wanted.has(item.sku)) {
      items.set(item.sku, { name: item.name, unitPrice: item.priceMinor });
    }
  }
  return {
    currency: catalogue.items[0]?.currency ?? "EUR",
    items,
    version: catalogue.version,
  };
}

/** Prices `cart`; throws {@link UnknownSkuError} or RangeError (a bad quantity). */
export function priceCart(
  cart: readonly { readonly sku: string; readonly qty: number }[],
  list: PriceList,
): { lines: PricedLine[]; total: number } {
  const lines: PricedLine[] = [];
  const seen = new Set<string>();
  for (const line of cart) {
    if (!Number.isInteger(line.qty) || line.qty < 1 || line.qty > 1000) {
      throw new RangeError(`Invalid quantity ${line.qty} of "${line.sku}": expected 1..1000`);
    }
    if (seen.has(line.sku)) throw new RangeError(`SKU "${line.sku}" appears twice in the cart`);
    seen.add(line.sku);
    const item = list.items.get(line.sku);
    if (!item) throw new UnknownSkuError(line.sku);
    lines.push({
      sku: line.sku,
      name: item.name,
      qty: line.qty,
      unitPrice: item.unitPrice,
      total: item.unitPrice * line.qty,
    });
  }
  lines.sort((a, b) => a.sku.localeCompare(b.sku));
  return { lines, total: lines.reduce((sum, l) => sum + l.total, 0) };
}
