/**
 * The fleet's price lists, in NATS: a global bucket (`prices`) whose original lives in the
 * primary region and which every other region reads from its mirror, like the rest of the
 * registry. A list has an id, one currency and its items (SKU, name, unit price in minor units);
 * a machine sells at the list it is assigned (`default` unless told otherwise).
 *
 * A payment session keeps the list's revision of its start ({@link PriceListRef}): a price
 * changed while a customer's door is open does not change what that customer pays.
 *
 * @example
 * ```ts
 * import { PriceBook } from "./price_book.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 *
 * const book = await PriceBook.open(nc);
 * await book.put("us", {
 *   currency: "USD",
 *   items: [{ sku: "COLA-330", name: "Cola 330 ml", unitPrice: 250 }],
 * }, { by: "operator/ana" });
 * await book.assign("m001", "us");
 * const { list, ref } = await book.forMachine("m001"); // USD 2.50, ref { id: "us", revision }
 * ```
 *
 * @module
 */
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { z } from "zod";
import type { PriceList } from "../../payments/mod.ts";
import { buckets } from "../../protocol/mod.ts";
import { putJson, RevisionConflictError } from "../fleet/mod.ts";
import { getLatest, KvReplica, openKv } from "../nats/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** Price list ids (and machine ids): 1-63 of a-z, 0-9 and '-'. */
const LIST_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The list a machine sells at unless assigned another. */
export const DEFAULT_PRICE_LIST = "default";

/** A price list as operators send it. */
export const PriceListInputSchema = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR"),
  items: z.array(z.strictObject({
    sku: z.string().regex(/^[A-Z0-9][A-Z0-9_-]{0,31}$/, "must be 1-32 of A-Z, 0-9, '_' and '-'"),
    name: z.string().trim().min(1).max(80),
    unitPrice: z.int().min(0).max(10_000_000),
  })).min(1).max(2000),
}).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.items.forEach((item, i) => {
    if (seen.has(item.sku)) {
      ctx.addIssue({ code: "custom", path: ["items", i, "sku"], message: `${item.sku} repeats` });
    }
    seen.add(item.sku);
  });
});

/** A price list as operators send it. */
export type PriceListInput = z.infer<typeof PriceListInputSchema>;

/** A price list as stored, with the bucket revision it was read at. */
export interface StoredPriceList extends PriceListInput {
  /** The list's id. */
  readonly id: string;
  /** When it was written, Unix ms. */
  readonly updatedAt: number;
  /** Who wrote it (an operator's subject, or `catalogue <version>`). */
  readonly updatedBy: string;
  /** Its revision in the bucket (the API's ETag; what a session is priced at). */
  readonly revision: number;
}

/** One revision of one price list: what a payment session is priced at. */
export interface PriceListRef {
  /** The list's id. */
  readonly id: string;
  /** Its revision. */
  readonly revision: number;
}

/** A machine's prices now, and the revision they come from (null for a fixed list). */
export interface MachinePrices {
  /** The prices. */
  readonly list: PriceList;
  /** The list revision they come from. */
  readonly ref: PriceListRef | null;
}

/** Where the payment service gets its prices from. */
export interface PriceSource {
  /**
   * What `machineId` sells now, at what price; with `latest`, as the primary region has it this
   * moment (not up to a second behind).
   */
  forMachine(machineId: string, options?: { latest?: boolean }): Promise<MachinePrices>;
  /** The prices of `ref` as they were at that revision. */
  at(ref: PriceListRef): Promise<PriceList>;
  /** The prices machines sell at unless assigned another list. */
  standard(): Promise<PriceList>;
}

/** A price list is missing (`what` names it); the API answers 404. */
export class PriceListNotFoundError extends Error {
  /** Creates the error. */
  constructor(what: string, options?: ErrorOptions) {
    super(`No ${what}`, options);
    this.name = "PriceListNotFoundError";
  }
}

/** A price list was refused; `field` names what is wrong, e.g. `items[2].unitPrice`. */
export class PriceListError extends Error {
  /** The field at fault. */
  readonly field: string;
  /** Creates the error. */
  constructor(field: string, message: string) {
    super(message);
    this.name = "PriceListError";
    this.field = field;
  }
}

/** Every machine sells at `list`, which never changes (tests, a single shop). */
export function fixedPrices(list: PriceList): PriceSource {
  return {
    forMachine: () => Promise.resolve({ list, ref: null }),
    at: () => Promise.resolve(list),
    standard: () => Promise.resolve(list),
  };
}

/** Options of {@link PriceBook.open}. */
export interface PriceBookOptions {
  /** Stored as list `default` when there is none yet (the catalogue's prices). */
  readonly seed?: PriceList;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Where a revision's copy that could not be written is logged. */
  readonly logger?: Logger;
}

interface StoredValue extends PriceListInput {
  readonly id: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

const encoder = new TextEncoder();

function checkId(what: string, id: string): string {
  if (typeof id !== "string" || !LIST_ID.test(id)) {
    throw new TypeError(
      `Invalid ${what} ${JSON.stringify(String(id).slice(0, 80))}: expected 1-63 of a-z, 0-9, '-'`,
    );
  }
  return id;
}

/** Revisions of lists kept in memory besides the current ones (each is immutable). */
const KEPT_REVISIONS = 256;

function decodeList(bytes: Uint8Array): StoredValue | undefined {
  let v: StoredValue | null;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes)) as StoredValue | null;
  } catch (e) {
    // Not JSON: not a price list (nothing else is stored under its keys).
    if (!(e instanceof SyntaxError)) throw e;
    return undefined;
  }
  return typeof v === "object" && v !== null && typeof v.id === "string" &&
      PriceListInputSchema.safeParse({
        currency: v.currency,
        items: v.items,
      }).success
    ? v
    : undefined;
}

/**
 * The price lists of the fleet and which machine sells at which. A list's current revision is
 * read from the bucket (coherently: in another region its mirror answers only when known to be
 * at most a second behind, see coherent_kv.ts), and each revision, once decoded, is kept (it
 * never changes): pricing a session costs two reads at its start, its machine's assignment and
 * the list's current revision. Listing all of them reads a watched replica.
 */
export class PriceBook implements PriceSource, AsyncDisposable {
  readonly #kv: KV;
  readonly #lists: KvReplica<StoredValue>;
  readonly #revisions = new Map<string, StoredPriceList>();
  readonly #now: () => number;
  readonly #logger: Logger | undefined;

  private constructor(
    kv: KV,
    lists: KvReplica<StoredValue>,
    now: () => number,
    logger: Logger | undefined,
  ) {
    this.#kv = kv;
    this.#lists = lists;
    this.#now = now;
    this.#logger = logger;
  }

  /**
   * Opens the `prices` bucket (creating it, and the region's mirror, when missing) and, given a
   * `seed`, stores it as list `default` unless one exists.
   */
  static async open(nc: NatsConnection, options: PriceBookOptions = {}): Promise<PriceBook> {
    // History: a session reads the revision it started at, however often the list changed since.
    const kv = await openKv(nc, buckets.prices, { history: 64 });
    const book = new PriceBook(
      kv,
      await KvReplica.open(kv, {
        prefix: "list.",
        decode: decodeList,
        ...(options.logger ? { logger: options.logger } : {}),
      }),
      options.now ?? Date.now,
      options.logger,
    );
    if (options.seed) await book.#seed(options.seed);
    return book;
  }

  /**
   * Stores the catalogue's prices as list `default` when there is none, or when the one there
   * came from another version of the catalogue (an operator's own list is never replaced).
   */
  async #seed(seed: PriceList): Promise<void> {
    const by = `catalogue ${seed.version}`;
    const current = await this.get(DEFAULT_PRICE_LIST);
    if (current && (!current.updatedBy.startsWith("catalogue ") || current.updatedBy === by)) {
      return;
    }
    const input = {
      currency: seed.currency,
      items: [...seed.items].map(([sku, item]) => ({ sku, ...item })),
    };
    try {
      await this.put(DEFAULT_PRICE_LIST, input, { by, revision: current?.revision ?? 0 });
    } catch (e) {
      // Another instance seeded it first.
      if (!(e instanceof RevisionConflictError)) throw e;
    }
  }

  /**
   * Stores price list `id` (replacing the one there; with `revision`, only if it is still that
   * one, 0 for a new one). Throws {@link PriceListError} naming the field at fault, or
   * `RevisionConflictError`.
   */
  async put(
    id: string,
    input: unknown,
    options: { by: string; revision?: number },
  ): Promise<StoredPriceList> {
    checkId("price list id", id);
    const parsed = PriceListInputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.reduce<string>(
        (out, p) =>
          typeof p === "number" ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p),
        "",
      );
      const value = issue.path.reduce<unknown>(
        (v, p) => (v as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey],
        input,
      );
      throw new PriceListError(
        field,
        `Invalid price list "${id}": ${field || "body"} ${
          JSON.stringify(value)?.slice(0, 80) ?? "missing"
        }: ${issue.message}`,
      );
    }
    const current = await this.get(id);
    if (
      current && (options.revision === undefined || options.revision === current.revision) &&
      sameContent(current, parsed.data)
    ) {
      return current; // nothing changes
    }
    const value: StoredValue = {
      id,
      ...parsed.data,
      updatedAt: this.#now(),
      updatedBy: options.by,
    };
    // RevisionConflictError when it changed since `revision` (0: created only if new).
    const revision = await putJson(this.#kv, `list.${id}`, value, options.revision);
    // Each revision is also kept under its own key, for the sessions priced at it however often
    // the list changes after (the list's own history keeps its last 64).
    // Without the copy, the list's history has the revision (its last 64): said, not fatal.
    await putJson(this.#kv, `rev.${id}.${revision}`, value).catch((e) =>
      this.#logger?.log("warn", "a price list revision's copy could not be written", {
        priceList: id,
        revision,
        error: String(e),
      })
    );
    // Listed by this instance at once (in another region, its replica follows the mirror).
    await this.#lists.caughtUp(id, revision);
    return { ...value, revision };
  }

  /** Price list `id` (at `revision`, else its newest), or undefined. */
  async get(id: string, options: { revision?: number } = {}): Promise<StoredPriceList | undefined> {
    checkId("price list id", id);
    if (options.revision === undefined) return this.#decoded(id, await this.#kv.get(`list.${id}`));
    const cacheKey = `${id}@${options.revision}`;
    const kept = this.#revisions.get(cacheKey);
    if (kept) return kept;
    const copy = await this.#kv.get(`rev.${id}.${options.revision}`);
    const e = copy?.operation === "PUT"
      ? copy
      : await this.#kv.get(`list.${id}`, { revision: options.revision });
    const value = e?.operation === "PUT" ? decodeList(e.value) : undefined;
    if (!e || !value || value.id !== id) return undefined;
    return this.#keep({ ...value, revision: options.revision });
  }

  /** The list in entry `e` of `list.<id>` (decoded once per revision). */
  #decoded(id: string, e: KvEntry | null): StoredPriceList | undefined {
    if (e?.operation !== "PUT") return undefined;
    const kept = this.#revisions.get(`${id}@${e.revision}`);
    if (kept) return kept;
    const value = decodeList(e.value);
    return value ? this.#keep({ ...value, revision: e.revision }) : undefined;
  }

  /** Keeps a decoded revision (the oldest kept are forgotten first). */
  #keep(stored: StoredPriceList): StoredPriceList {
    if (this.#revisions.size >= KEPT_REVISIONS) {
      this.#revisions.delete(this.#revisions.keys().next().value!);
    }
    this.#revisions.set(`${stored.id}@${stored.revision}`, stored);
    return stored;
  }

  /** Every price list, by id. */
  list(): Promise<StoredPriceList[]> {
    const out = Array.from(
      this.#lists.entries(),
      ([, e]) => ({ ...e.value, revision: e.revision }),
    );
    return Promise.resolve(out.sort((a, b) => a.id.localeCompare(b.id)));
  }

  /** Makes `machineId` sell at list `listId` (which must exist); null goes back to `default`. */
  async assign(machineId: string, listId: string | null): Promise<void> {
    checkId("machine id", machineId);
    if (listId === null) {
      await this.#kv.delete(`machine.${machineId}`);
      return;
    }
    if (!await this.get(listId)) throw new PriceListNotFoundError(`price list "${listId}"`);
    await this.#kv.put(`machine.${machineId}`, encoder.encode(listId));
  }

  /** The list `machineId` sells at. */
  async assignment(machineId: string): Promise<string> {
    checkId("machine id", machineId);
    const e = await this.#kv.get(`machine.${machineId}`);
    return e?.operation === "PUT" ? e.string() : DEFAULT_PRICE_LIST;
  }

  /** What `machineId` sells now, at what price (throws {@link PriceListNotFoundError}). */
  async forMachine(
    machineId: string,
    options: { latest?: boolean } = {},
  ): Promise<MachinePrices> {
    checkId("machine id", machineId);
    const read = (key: string) => options.latest ? getLatest(this.#kv, key) : this.#kv.get(key);
    const a = await read(`machine.${machineId}`);
    const id = a?.operation === "PUT" ? a.string() : DEFAULT_PRICE_LIST;
    const stored = options.latest
      ? await this.#decoded(id, await read(`list.${id}`))
      : await this.get(id);
    if (!stored) {
      throw new PriceListNotFoundError(`price list "${id}" (machine ${machineId} sells at it)`);
    }
    return { list: asPriceList(stored), ref: { id, revision: stored.revision } };
  }

  /** The prices of list `default` (throws {@link PriceListNotFoundError}). */
  async standard(): Promise<PriceList> {
    const stored = await this.get(DEFAULT_PRICE_LIST);
    if (!stored) throw new PriceListNotFoundError(`price list "${DEFAULT_PRICE_LIST}"`);
    return asPriceList(stored);
  }

  /** The prices of `ref` as they were (throws {@link PriceListNotFoundError}). */
  async at(ref: PriceListRef): Promise<PriceList> {
    const stored = await this.get(ref.id, { revision: ref.revision });
    if (!stored) {
      throw new PriceListNotFoundError(`revision ${ref.revision} of price list "${ref.id}"`);
    }
    return asPriceList(stored);
  }

  /** Stops following the lists. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#lists[Symbol.asyncDispose]();
  }
}

/** Whether two lists sell the same items at the same prices in the same currency. */
function sameContent(a: PriceListInput, b: PriceListInput): boolean {
  return JSON.stringify([a.currency, a.items]) === JSON.stringify([b.currency, b.items]);
}

/** The pricing view of a stored list. */
function asPriceList(stored: StoredPriceList): PriceList {
  return {
    currency: stored.currency,
    items: new Map(stored.items.map((i) => [i.sku, { name: i.name, unitPrice: i.unitPrice }])),
    version: `${stored.id}@${stored.revision}`,
  };
}
