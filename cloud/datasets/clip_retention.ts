/**
 * Clip retention: a session's clips are the customer's video and are deleted from the region's
 * object store `retention.days` after its door closed, unless something holds them: a review not
 * done yet or a dispute (the evidence a person needs), or a review a person did (the session is a
 * labelled training sample), which keep them `retention.heldDays`. A session still in review or
 * disputed and not settled keeps them past that too, until it is settled. The sample stays, with
 * the time its clips were deleted. Sweeps are idempotent: any number of cloud instances may run
 * them; each region sweeps its own store.
 *
 * @example
 * ```ts
 * import { ClipRetention } from "./clip_retention.ts";
 *
 * declare const retention: ClipRetention;
 * console.log(await retention.sweep()); // { deleted: 3, held: 1, kept: 40 }
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { isFinal, type PaymentSession } from "../../payments/mod.ts";
import { buckets } from "../../protocol/mod.ts";
import { type Logger, sleep } from "../../runtime/mod.ts";
import { PaymentNotFoundError } from "../checkout/mod.ts";
import { openObjectStore } from "../nats/mod.ts";
import type { FieldSamples } from "./field_samples.ts";
import { reviewedByPerson } from "./field_label.ts";

const DAY_MS = 86_400_000;

/** Options of {@link ClipRetention}. */
export interface ClipRetentionOptions {
  readonly region: string;
  /** Reads a session's payment (throws `PaymentNotFoundError` for one this region did not sell). */
  readonly sessions: { get(sessionId: string): Promise<PaymentSession> };
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  readonly logger?: Logger | undefined;
}

/** What one sweep did. */
export interface SweepResult {
  /** Sessions whose clips were deleted. */
  deleted: number;
  /** Sessions past `days` whose clips a review or dispute holds. */
  held: number;
  /** Sessions not yet due. */
  kept: number;
}

/** Why a session's clips are held, if they are. */
export function clipHold(s: PaymentSession): "review" | "dispute" | "reviewed" | null {
  if (s.disputed) return "dispute";
  if (s.state === "review") return "review";
  if (reviewedByPerson(s)) return "reviewed";
  return null;
}

/** Deletes expired clips (see the module documentation). */
export class ClipRetention {
  readonly #nc: NatsConnection;
  readonly #samples: FieldSamples;
  readonly #o: ClipRetentionOptions;

  /** Creates the sweeper over the region's samples. */
  constructor(nc: NatsConnection, samples: FieldSamples, options: ClipRetentionOptions) {
    this.#nc = nc;
    this.#samples = samples;
    this.#o = options;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /**
   * One pass over the region's `clips` store, session by session (objects
   * `<deviceId>/<sessionId>/...`): a session's age is from its door closing (as its sample keeps
   * it), else from its newest clip's upload. A session this region did not sell (a machine that failed
   * over sold it elsewhere, or an unpaid door session) is held as long as a reviewed one.
   */
  async sweep(): Promise<SweepResult> {
    const out: SweepResult = { deleted: 0, held: 0, kept: 0 };
    const now = this.#now();
    const store = await openObjectStore(this.#nc, buckets.clips);
    const bySession = new Map<string, { names: string[]; newest: number }>();
    for await (const info of await store.list()) {
      if (info.deleted) continue;
      const sessionId = info.name.split("/")[1];
      if (!sessionId) continue;
      const e = bySession.get(sessionId) ?? { names: [], newest: 0 };
      e.names.push(info.name);
      e.newest = Math.max(e.newest, Date.parse(info.mtime) || now);
      bySession.set(sessionId, e);
    }
    const { days, heldDays } = this.#samples.retention;
    for (const [sessionId, { names, newest }] of bySession) {
      const sample = await this.#samples.get(sessionId);
      const since = sample ? sample.clipsExpireAt - days * DAY_MS : newest;
      if (since + days * DAY_MS > now) {
        out.kept++;
        continue;
      }
      const session = await this.#o.sessions.get(sessionId).catch((e) => {
        if (e instanceof PaymentNotFoundError) return undefined;
        throw e;
      });
      const hold = session ? clipHold(session) : "not_sold_here";
      // Open business (a review not done, a dispute not settled) holds them past that too.
      const open = hold === "review" || (hold === "dispute" && session && !isFinal(session.state));
      if (hold && (since + heldDays * DAY_MS > now || open)) {
        out.held++;
        continue;
      }
      for (const name of names) await store.delete(name);
      if (sample) {
        await this.#samples.update(
          sessionId,
          (s) => s && s.clipsDeletedAt === null ? { ...s, clipsDeletedAt: now } : undefined,
        );
      }
      this.#o.logger?.log("info", "clips deleted by retention", { sessionId, clips: names.length });
      out.deleted++;
    }
    return out;
  }

  /** Sweeps every `everyMs` until `signal` aborts; a failed sweep is logged and tried again. */
  async run(signal: AbortSignal, options: { readonly everyMs?: number } = {}): Promise<void> {
    const every = options.everyMs ?? 3_600_000;
    while (!signal.aborted) {
      try {
        const r = await this.sweep();
        if (r.deleted) this.#o.logger?.log("info", "clip retention swept", { ...r });
      } catch (err) {
        this.#o.logger?.log("warn", "clip retention sweep failed; it runs again", {
          error: String(err),
        });
      }
      await sleep(every, { signal });
    }
  }
}
