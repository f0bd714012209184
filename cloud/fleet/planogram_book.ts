/**
 * The machines' planograms: which SKU each shelf slot of a machine holds and its par level,
 * owned by the cloud and kept in the global `planograms` bucket (key `machine.<machineId>`),
 * each change under a new version (1, 2, 3...; the bucket's history keeps the last 64). A
 * planogram is checked before it is stored: every slot once, every SKU one the machine sells
 * (its price list), and, once its primary device has said which slots its cameras see, every
 * slot one of them. {@link PlanogramPush} takes each version to the machine.
 *
 * @example
 * ```ts
 * import { PlanogramBook } from "./planogram_book.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 *
 * const book = await PlanogramBook.open(nc);
 * await book.put("m001", { slots: [{ shelf: 0, slot: 0, sku: "COLA-330", par: 6 }] }, {
 *   by: "operator alice",
 *   skus: new Set(["COLA-330"]),
 * });
 * ```
 *
 * @module
 */
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  buckets,
  type Calibration,
  type SlotAssignment,
  SlotAssignmentsSchema,
} from "../../protocol/mod.ts";
import { KvReplica, openKv } from "../nats/mod.ts";
import { putJson, RevisionConflictError } from "./fleet_state.ts";

/** A machine's planogram as stored. */
export interface StoredPlanogram {
  /** The machine. */
  readonly machineId: string;
  /** 1 for the first, raised by one with each change. */
  readonly version: number;
  /** The slots. */
  readonly slots: readonly SlotAssignment[];
  /** When it was written, Unix ms. */
  readonly updatedAt: number;
  /** Who wrote it. */
  readonly updatedBy: string;
}

/** A planogram refused; `field` is where (`slots.3.sku`). */
export class PlanogramRefusedError extends Error {
  /** The field at fault, as a path into the body. */
  readonly field: string;
  /** Creates the error. */
  constructor(field: string, message: string) {
    super(message);
    this.name = "PlanogramRefusedError";
    this.field = field;
  }
}

/** The planogram changed since the version the writer read. */
export class PlanogramConflictError extends Error {
  /** The version stored now (0: none). */
  readonly current: number;
  /** Creates the error. */
  constructor(machineId: string, current: number, options?: ErrorOptions) {
    super(
      current === 0
        ? `Machine "${machineId}" has no planogram yet`
        : `The planogram of "${machineId}" is at version ${current} now`,
      options,
    );
    this.name = "PlanogramConflictError";
    this.current = current;
  }
}

/** What {@link PlanogramBook.put} checks a planogram against, and who writes it. */
export interface PutPlanogramOptions {
  /** Who writes it (kept in `updatedBy`). */
  readonly by: string;
  /** The SKUs the machine sells (its price list). */
  readonly skus: ReadonlySet<string>;
  /** The slots the machine's cameras see, when its primary has reported them. */
  readonly calibration?: Calibration | undefined;
  /** Write only over this version (0: only if there is none). */
  readonly version?: number | undefined;
}

const MACHINE = /^[a-z0-9][a-z0-9-]{0,62}$/;

function decode(bytes: Uint8Array): StoredPlanogram | undefined {
  let v: Partial<StoredPlanogram> | null;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    // Not JSON: not a planogram (nothing else is stored under its keys).
    if (!(e instanceof SyntaxError)) throw e;
    return undefined;
  }
  return v && typeof v.machineId === "string" && Number.isInteger(v.version) &&
      SlotAssignmentsSchema.safeParse(v.slots).success
    ? v as StoredPlanogram
    : undefined;
}

/** The refusal of `input` as the machine's planogram, or its slots. */
function check(
  machineId: string,
  input: unknown,
  options: PutPlanogramOptions,
): SlotAssignment[] {
  const parsed = SlotAssignmentsSchema.safeParse((input as { slots?: unknown } | null)?.slots);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ["slots", ...issue.path].join(".");
    throw new PlanogramRefusedError(field, `Invalid planogram: ${field}: ${issue.message}`);
  }
  const seen = options.calibration &&
    new Set(options.calibration.map((s) => `${s.shelf}/${s.slot}`));
  for (const [i, s] of parsed.data.entries()) {
    if (s.sku !== null && !options.skus.has(s.sku)) {
      throw new PlanogramRefusedError(
        `slots.${i}.sku`,
        `Invalid planogram: slots.${i}.sku: "${s.sku}" is not sold at machine ${machineId} (not in its price list)`,
      );
    }
    if (seen && !seen.has(`${s.shelf}/${s.slot}`)) {
      throw new PlanogramRefusedError(
        `slots.${i}`,
        `Invalid planogram: slots.${i}: shelf ${s.shelf} slot ${s.slot} is seen by no camera of machine ${machineId}`,
      );
    }
  }
  return parsed.data;
}

/** The machines' planograms; see the module documentation. */
export class PlanogramBook implements AsyncDisposable {
  readonly #kv: KV;
  readonly #now: () => number;
  /** Every machine's current planogram, by machine id (a watched replica). */
  readonly replica: KvReplica<StoredPlanogram>;

  private constructor(kv: KV, replica: KvReplica<StoredPlanogram>, now: () => number) {
    this.#kv = kv;
    this.replica = replica;
    this.#now = now;
  }

  /** Opens the `planograms` bucket (creating it, and the region's mirror, when missing). */
  static async open(
    nc: NatsConnection,
    options: { now?: () => number } = {},
  ): Promise<PlanogramBook> {
    const kv = await openKv(nc, buckets.planograms, { history: 64 });
    const replica = await KvReplica.open(kv, { prefix: "machine.", decode });
    return new PlanogramBook(kv, replica, options.now ?? Date.now);
  }

  /** The machine's current planogram, or undefined. */
  async get(machineId: string): Promise<StoredPlanogram | undefined> {
    return (await this.#read(machineId)).planogram;
  }

  async #read(machineId: string): Promise<{ planogram?: StoredPlanogram; revision: number }> {
    if (!MACHINE.test(machineId)) {
      throw new TypeError(`Invalid machine id ${JSON.stringify(machineId.slice(0, 80))}`);
    }
    const e: KvEntry | null = await this.#kv.get(`machine.${machineId}`);
    const planogram = e?.operation === "PUT" ? decode(e.value) : undefined;
    return {
      ...(planogram ? { planogram } : {}),
      revision: e?.operation === "PUT" ? e.revision : 0,
    };
  }

  /** The machine's planograms, newest first (the last 64 versions). */
  async versions(machineId: string): Promise<StoredPlanogram[]> {
    await this.#read(machineId); // checks the id
    const out: StoredPlanogram[] = [];
    for await (const e of await this.#kv.history({ key: `machine.${machineId}` })) {
      const p = e.operation === "PUT" ? decode(e.value) : undefined;
      if (p) out.push(p);
    }
    return out.sort((a, b) => b.version - a.version);
  }

  /**
   * Stores `input` (`{ slots }`) as the machine's next planogram version. Throws
   * {@link PlanogramRefusedError} naming the field at fault, or {@link PlanogramConflictError}
   * when it changed since `options.version` (or meanwhile).
   */
  async put(
    machineId: string,
    input: unknown,
    options: PutPlanogramOptions,
  ): Promise<StoredPlanogram> {
    const { planogram: current, revision } = await this.#read(machineId);
    const slots = check(machineId, input, options);
    const version = current?.version ?? 0;
    if (options.version !== undefined && options.version !== version) {
      throw new PlanogramConflictError(machineId, version);
    }
    const value: StoredPlanogram = {
      machineId,
      version: version + 1,
      slots,
      updatedAt: this.#now(),
      updatedBy: options.by,
    };
    try {
      const written = await putJson(this.#kv, `machine.${machineId}`, value, revision);
      // Listed by this instance at once (in another region, its replica follows the mirror).
      await this.replica.caughtUp(machineId, written);
    } catch (cause) {
      if (!(cause instanceof RevisionConflictError)) throw cause;
      const now = (await this.#read(machineId)).planogram?.version ?? 0;
      throw new PlanogramConflictError(machineId, now, { cause });
    }
    return value;
  }

  /** Stops following the bucket. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.replica[Symbol.asyncDispose]();
  }
}
