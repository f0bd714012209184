/**
 * The product catalogue: every SKU a machine may sell, with its name, its price in minor units
 * (cents) and how it looks (the synthetic renderer draws it from this). The model's SKU labels
 * are the catalogue's SKUs in order, after `empty`.
 *
 * @example
 * ```ts
 * import { DEFAULT_CATALOGUE, skuLabels } from "./catalogue.ts";
 *
 * console.log(skuLabels(DEFAULT_CATALOGUE)); // ["empty", "COLA-330", ...]
 * ```
 *
 * @module
 */
import { z } from "zod";
import { DEFAULT_PRODUCTS, type Product } from "../pipeline/mod.ts";

const rgb = z.tuple([z.int().min(0).max(255), z.int().min(0).max(255), z.int().min(0).max(255)]);

/** Schema of one catalogue entry. */
export const CatalogueItemSchema = z.strictObject({
  sku: z.string().regex(/^[A-Z0-9][A-Z0-9-]{0,31}$/, "must be 1-32 of A-Z, 0-9 and '-'"),
  name: z.string().min(1).max(100),
  /** Price in minor units of `currency` (e.g. cents). */
  priceMinor: z.int().min(0).max(10_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code"),
  look: z.strictObject({
    color: rgb,
    accent: rgb,
    pattern: z.enum(["solid", "stripes", "band", "dots"]),
    shape: z.enum(["can", "bottle", "box", "bag"]),
  }),
});

/** One SKU of the catalogue. */
export type CatalogueItem = z.infer<typeof CatalogueItemSchema>;

/** Schema of a catalogue: at least one item, SKUs unique, one currency. */
export const CatalogueSchema = z.strictObject({
  version: z.string().min(1).max(64),
  items: z.array(CatalogueItemSchema).min(1).max(1000),
}).superRefine((c, ctx) => {
  const seen = new Set<string>();
  c.items.forEach((item, i) => {
    if (seen.has(item.sku)) {
      ctx.addIssue({ code: "custom", path: ["items", i, "sku"], message: `${item.sku} repeats` });
    }
    seen.add(item.sku);
    if (item.currency !== c.items[0]!.currency) {
      ctx.addIssue({
        code: "custom",
        path: ["items", i, "currency"],
        message: `must be ${c.items[0]!.currency} like the first item`,
      });
    }
  });
});

/** A product catalogue. */
export type Catalogue = z.infer<typeof CatalogueSchema>;

/** A catalogue that fails its schema. */
export class CatalogueError extends Error {
  /** The field that is wrong, e.g. `items[2].priceMinor`. */
  readonly field: string;
  /** Creates the error. */
  constructor(field: string, message: string) {
    super(message);
    this.name = "CatalogueError";
    this.field = field;
  }
}

/** Validates a catalogue; throws {@link CatalogueError} naming the first wrong field. */
export function parseCatalogue(input: unknown): Catalogue {
  const r = CatalogueSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.map((p, i) =>
    typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`
  ).join("");
  throw new CatalogueError(field, `Invalid catalogue: ${field || "(root)"} ${issue.message}`);
}

const PRICES: Readonly<Record<string, number>> = {
  "COLA-330": 250,
  "LEMON-330": 240,
  "WATER-500": 180,
  "ORANGE-500": 320,
  "CHIPS-50": 210,
  "CHOCO-45": 190,
  "GUM-14": 150,
  "TEA-500": 280,
  "ENERGY-250": 350,
  "NUTS-75": 270,
  "COOKIE-90": 230,
  "MILK-250": 160,
};

/** The catalogue of the renderer's default products (the demo, tests and default model). */
export const DEFAULT_CATALOGUE: Catalogue = parseCatalogue({
  version: "2026.11.1",
  items: DEFAULT_PRODUCTS.map((p) => ({
    sku: p.sku,
    name: p.name,
    priceMinor: PRICES[p.sku] ?? 200,
    currency: "EUR",
    look: { ...p.look, color: [...p.look.color], accent: [...p.look.accent] },
  })),
});

/** The model's SKU labels: `empty`, then the catalogue's SKUs in order. */
export function skuLabels(catalogue: Catalogue): string[] {
  return ["empty", ...catalogue.items.map((i) => i.sku)];
}

/** The catalogue as products the renderer can draw. */
export function catalogueProducts(catalogue: Catalogue): Product[] {
  return catalogue.items.map((i) => ({ sku: i.sku, name: i.name, look: i.look }));
}
