/**
 * A product no model has seen, as the simulated world renders it: its look (colours, pattern,
 * silhouette) drawn from an appearance seed, kept apart from every catalogue product's look so
 * that a camera can tell them apart. Simulation only: what learns the product (training, the
 * devices) gets its footage and the SKU a reviewer names, never the seed or this look.
 *
 * @example
 * ```ts
 * import { newProduct } from "./new_product.ts";
 *
 * const p = newProduct(7, { sku: "NOVA-250" });
 * console.log(p.look.shape, p.look.pattern);
 * ```
 *
 * @module
 */
import { DEFAULT_PRODUCTS, prng, type Product, type ProductLook } from "../../pipeline/mod.ts";

const PATTERNS: readonly ProductLook["pattern"][] = ["solid", "stripes", "band", "dots"];
const SHAPES: readonly ProductLook["shape"][] = ["can", "bottle", "box", "bag"];

/** Colour distance (RGB, euclidean) below which two looks of one shape and pattern are alike. */
const ALIKE = 120;

type Rgb = readonly [number, number, number];

const distance = (a: Rgb, b: Rgb) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** Whether `look` could pass for `other` on camera: the same silhouette, pattern and colours. */
function alike(look: ProductLook, other: ProductLook): boolean {
  return look.shape === other.shape && look.pattern === other.pattern &&
    distance(look.color, other.color) < ALIKE;
}

/**
 * The product `sku` (default `NEW-1`) with a look drawn from `appearanceSeed` (a non-negative
 * integer): body and accent colours apart from each other, and not like any of `others`' looks
 * (default the catalogue's products). A `TypeError` for a seed or SKU that is not one.
 */
export function newProduct(
  appearanceSeed: number,
  options: { sku?: string; others?: readonly Product[] } = {},
): Product {
  if (!Number.isSafeInteger(appearanceSeed) || appearanceSeed < 0) {
    throw new TypeError(`Invalid appearance seed ${appearanceSeed}: expected an integer ≥ 0`);
  }
  const sku = options.sku ?? "NEW-1";
  if (!/^[A-Z0-9][A-Z0-9-]{0,31}$/.test(sku)) {
    throw new TypeError(`Invalid SKU "${sku}": expected 1-32 of A-Z, 0-9 and '-'`);
  }
  const others = options.others ?? DEFAULT_PRODUCTS;
  const rand = prng(appearanceSeed ^ 0x0a99_ea12);
  const channel = () => Math.floor(rand() * 256);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  for (;;) {
    const color: Rgb = [channel(), channel(), channel()];
    const accent: Rgb = [channel(), channel(), channel()];
    const look: ProductLook = { color, accent, pattern: pick(PATTERNS), shape: pick(SHAPES) };
    if (distance(color, accent) < ALIKE) continue; // the pattern would not show
    if (others.some((p) => alike(look, p.look))) continue;
    return { sku, name: `New product ${sku}`, look };
  }
}
