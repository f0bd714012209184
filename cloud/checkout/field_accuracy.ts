/**
 * Field accuracy: how the recognition does where customers pay, per machine and model version,
 * hour by hour. A durable consumer of the region's PAYMENTS stream (shared by the cloud
 * instances) counts each session once into the hour it started in: a session whose cart a model
 * decided, charged without review, sent to review (by reason), corrected by the reviewer (the
 * reviewed cart is not the device's), disputed, and disputes upheld (a disputed session refunded).
 * Counts live in the regional `field_accuracy` bucket, one key per machine, model and hour;
 * each carries the session steps it counted, so a redelivered event counts nothing twice. A
 * machine whose review rate over the last hours rises above a threshold raises a `review_rate`
 * alert (on its deciding device) that clears when the rate falls back.
 *
 * @example
 * ```ts
 * import { FieldAccuracy } from "./field_accuracy.ts";
 *
 * const accuracy = await FieldAccuracy.open(nc, { region: "local", sessions: payments });
 * const report = await accuracy.machine("m001", { hours: 24 });
 * console.log(report.totals.review / report.totals.sessions);
 * ```
 *
 * @module
 */
import {
  AckPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import type { PaymentCartLine, PaymentSession } from "../../payments/mod.ts";
import { reviewReasonKind } from "../../pipeline/mod.ts";
import {
  alert,
  buckets,
  filters,
  newEnvelope,
  parsePaymentEvent,
  type PaymentEvent,
  streamName,
  subjects,
} from "../../protocol/mod.ts";
import { compareAndSwap, isRevisionConflict, type Logger } from "../../runtime/mod.ts";
import { fetchLoop, isConsumerExists, openKv } from "../nats/mod.ts";
import { unlockedDevice } from "./_session_log.ts";

/** What is counted of a set of sessions. */
export interface AccuracyCounts {
  /** Sessions whose cart a model decided. */
  sessions: number;
  /** Charged the device's cart, with no person looking. */
  chargedWithoutReview: number;
  /** Sent to review. */
  review: number;
  /** Review reasons, by kind (their figures written `#`). */
  reasons: Record<string, number>;
  /** Reviewed to another cart than the device's. */
  corrected: number;
  /** Disputed by the customer. */
  disputes: number;
  /** Disputes upheld: the disputed session refunded. */
  disputesUpheld: number;
}

/** One hour of one machine and model version. */
export interface AccuracyHour extends AccuracyCounts {
  readonly machineId: string;
  /** The model version that decided (`unknown` when the device did not say). */
  readonly modelVersion: string;
  /** Start of the hour (Unix ms, UTC). */
  readonly hour: number;
}

/** A machine's or the fleet's accuracy over a span of hours. */
export interface AccuracyReport {
  /** First hour in the span (Unix ms). */
  readonly since: number;
  /** Every hour with sessions, oldest first (one entry per machine and model version). */
  readonly hours: readonly AccuracyHour[];
  /** Per model version. */
  readonly byModel: Readonly<Record<string, AccuracyCounts>>;
  /** Per machine (all its model versions). */
  readonly byMachine: Readonly<Record<string, AccuracyCounts>>;
  readonly totals: AccuracyCounts;
}

/** When a machine's review rate raises an alert. */
export interface ReviewRateAlert {
  /** Review rate above which the alert is raised, 0..1. Default 0.1. */
  readonly threshold?: number;
  /** Sessions the rate needs before it says anything. Default 10. */
  readonly minSessions?: number;
  /** Hours the rate is measured over. Default 24. */
  readonly hours?: number;
}

/** Options of {@link FieldAccuracy.open}. */
export interface FieldAccuracyOptions {
  readonly region: string;
  /** Reads a payment session (the session log's view of it). */
  readonly sessions: { get(sessionId: string): Promise<PaymentSession> };
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  readonly reviewRateAlert?: ReviewRateAlert;
  readonly logger?: Logger | undefined;
}

const HOUR_MS = 3_600_000;

/** Stored: the counts and the session steps already in them. */
interface StoredHour extends AccuracyHour {
  readonly counted: readonly string[];
}

/** A model version as one KV key token (`.` and `+` are not key characters). */
export function modelKey(version: string): string {
  return version.replaceAll("=", "=3D").replaceAll(".", "=2E").replaceAll("+", "=2B");
}

function versionOf(key: string): string {
  return key.replaceAll("=2B", "+").replaceAll("=2E", ".").replaceAll("=3D", "=");
}

function zero(): AccuracyCounts {
  return {
    sessions: 0,
    chargedWithoutReview: 0,
    review: 0,
    reasons: {},
    corrected: 0,
    disputes: 0,
    disputesUpheld: 0,
  };
}

function add(into: AccuracyCounts, c: AccuracyCounts): void {
  into.sessions += c.sessions;
  into.chargedWithoutReview += c.chargedWithoutReview;
  into.review += c.review;
  into.corrected += c.corrected;
  into.disputes += c.disputes;
  into.disputesUpheld += c.disputesUpheld;
  for (const [k, n] of Object.entries(c.reasons)) into.reasons[k] = (into.reasons[k] ?? 0) + n;
}

const cartText = (cart: readonly PaymentCartLine[] | null) =>
  (cart ?? []).filter((l) => l.qty > 0).map((l) => `${l.sku}x${l.qty}`).sort().join(",");

/**
 * What `event` adds to its session's counts (`session` as it is after the event), or undefined
 * when it adds nothing.
 */
export function countsOf(
  event: PaymentEvent,
  session: PaymentSession,
): Partial<AccuracyCounts> | undefined {
  switch (event.type) {
    case "cart_received":
      return { sessions: 1 };
    case "review_required":
      // Only a session a model decided (a session sent to review before its cart came is not).
      if (session.deviceCart === null) return undefined;
      return {
        review: 1,
        reasons: Object.fromEntries(event.reasons.map((r) => [reviewReasonKind(r), 1])),
      };
    case "receipt_issued":
      return session.deviceCart !== null && session.reviewer === null
        ? { chargedWithoutReview: 1 }
        : undefined;
    case "review_completed":
      return session.deviceCart !== null && cartText(event.cart) !== cartText(session.deviceCart)
        ? { corrected: 1 }
        : undefined;
    case "disputed":
      return session.deviceCart !== null ? { disputes: 1 } : undefined;
    case "refunded":
      return session.deviceCart !== null && session.disputed ? { disputesUpheld: 1 } : undefined;
    default:
      return undefined;
  }
}

/** Field accuracy per machine and model version; see the module documentation. */
export class FieldAccuracy {
  readonly #nc: NatsConnection;
  readonly #kv: KV;
  readonly #o: FieldAccuracyOptions;
  readonly #now: () => number;

  private constructor(nc: NatsConnection, kv: KV, options: FieldAccuracyOptions) {
    this.#nc = nc;
    this.#kv = kv;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Opens the counts (creating the bucket when missing). */
  static async open(nc: NatsConnection, options: FieldAccuracyOptions): Promise<FieldAccuracy> {
    const threshold = options.reviewRateAlert?.threshold ?? 0.1;
    if (!(threshold >= 0 && threshold <= 1)) {
      throw new RangeError(`Invalid review rate alert threshold ${threshold}: expected 0..1`);
    }
    return new FieldAccuracy(nc, await openKv(nc, buckets.fieldAccuracy, { history: 1 }), options);
  }

  /**
   * Counts `event` of `session` (as it is after the event) once: an event counted before (a
   * redelivery) changes nothing. Returns whether it counted.
   */
  async record(event: PaymentEvent, session: PaymentSession): Promise<boolean> {
    const counts = countsOf(event, session);
    if (!counts) return false;
    const modelVersion = session.modelVersion ?? "unknown";
    const hour = Math.floor(session.startedAt / HOUR_MS) * HOUR_MS;
    const key = `${session.machineId}.${modelKey(modelVersion)}.${hour / HOUR_MS}`;
    const step = `${session.sessionId}:${event.type}`;
    const swapped = await compareAndSwap<StoredHour>({ kv: this.#kv, key }, (current) => {
      if (current?.counted.includes(step)) return undefined;
      const next: StoredHour = {
        ...zero(),
        ...current,
        machineId: session.machineId,
        modelVersion,
        hour,
        counted: [...(current?.counted ?? []), step],
      };
      const sum = { ...zero(), ...counts, reasons: counts.reasons ?? {} };
      const into = { ...next, reasons: { ...next.reasons } };
      add(into, sum);
      return into;
    });
    return swapped !== undefined;
  }

  /** The accuracy of `machineId` over the last `hours` (default 168: a week). */
  machine(machineId: string, options: { hours?: number } = {}): Promise<AccuracyReport> {
    return this.#report(`${machineId}.>`, options);
  }

  /** The fleet's accuracy in this region over the last `hours`, per model version and machine. */
  fleet(options: { hours?: number; modelVersion?: string } = {}): Promise<AccuracyReport> {
    return this.#report(
      options.modelVersion ? `*.${modelKey(options.modelVersion)}.*` : ">",
      options,
    );
  }

  async #report(filter: string, options: { hours?: number }): Promise<AccuracyReport> {
    const hours = options.hours ?? 168;
    if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 366) {
      throw new RangeError(`Invalid hours ${hours}: expected an integer 1..8784`);
    }
    const since = (Math.floor(this.#now() / HOUR_MS) - hours + 1) * HOUR_MS;
    // A key updated while the listing runs can be listed twice: each is read once.
    const keys = new Set<string>();
    for await (const k of await this.#kv.keys(filter)) {
      if (Number(k.split(".").at(-1)) * HOUR_MS >= since) keys.add(k);
    }
    const found: AccuracyHour[] = [];
    for (const k of keys) {
      const e = await this.#kv.get(k);
      if (e?.operation !== "PUT") continue;
      const { counted: _, ...h } = e.json<StoredHour>();
      found.push({ ...h, modelVersion: h.modelVersion ?? versionOf(k.split(".")[1]!) });
    }
    found.sort((a, b) => a.hour - b.hour || a.machineId.localeCompare(b.machineId));
    const byModel: Record<string, AccuracyCounts> = {};
    const byMachine: Record<string, AccuracyCounts> = {};
    const totals = zero();
    for (const h of found) {
      add(byModel[h.modelVersion] ??= zero(), h);
      add(byMachine[h.machineId] ??= zero(), h);
      add(totals, h);
    }
    return { since, hours: found, byModel, byMachine, totals };
  }

  /**
   * Counts the region's payment events (a durable consumer shared by the cloud instances) until
   * `signal` aborts; a message is acknowledged once counted, so a crash before that redelivers
   * it (and the count stays one).
   */
  async run(signal: AbortSignal): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    const stream = streamName("PAYMENTS", this.#o.region);
    await jsm.consumers.add(stream, {
      durable_name: "field-accuracy",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      filter_subject: filters.payments(this.#o.region),
    }).catch((err) => {
      if (!isConsumerExists(err)) throw err;
    });
    const consumer = await jetstream(this.#nc).consumers.get(stream, "field-accuracy");
    await fetchLoop(consumer, (m) => this.#handle(jsm, m), {
      signal,
      maxMessages: 64,
      logger: this.#o.logger,
      what: "payment events to count",
    });
  }

  async #handle(jsm: JetStreamManager, m: JsMsg): Promise<void> {
    const e = parsePaymentEvent(m.data);
    if (!e.ok) {
      this.#o.logger?.log("warn", "a payment event that does not parse is not counted", {
        subject: m.subject,
      });
      return m.term();
    }
    try {
      const session = await this.#o.sessions.get(e.value.sessionId);
      const counted = await this.record(e.value, session);
      if (counted && (e.value.type === "cart_received" || e.value.type === "review_required")) {
        await this.#checkReviewRate(jsm, session);
      }
      m.ack();
    } catch (err) {
      this.#o.logger?.log("error", "a payment event could not be counted; it comes again", {
        subject: m.subject,
        error: String(err),
      });
      m.nak(2000);
    }
  }

  /** Raises or clears the machine's `review_rate` alert from its last hours. */
  async #checkReviewRate(jsm: JetStreamManager, session: PaymentSession): Promise<void> {
    const { threshold = 0.1, minSessions = 10, hours = 24 } = this.#o.reviewRateAlert ?? {};
    const { totals } = await this.machine(session.machineId, { hours });
    const deviceId = await unlockedDevice(jsm, {
      region: this.#o.region,
      sessionId: session.sessionId,
    });
    if (!deviceId || totals.sessions < minSessions) return;
    const rate = totals.review / totals.sessions;
    const alerts = await openKv(this.#nc, buckets.alerts, { history: 1 });
    const key = `review_rate.${deviceId}`;
    const raised = await alerts.get(key);
    const isRaised = raised?.operation === "PUT";
    const percent = Math.round(rate * 1000) / 10;
    const message = `${percent}% of ${totals.sessions} sessions at ${session.machineId} ` +
      `went to review in ${hours} h (threshold ${Math.round(threshold * 1000) / 10}%)`;
    if (rate > threshold && !isRaised) {
      const record = {
        deviceId,
        kind: "review_rate" as const,
        severity: "warning" as const,
        message,
        value: rate,
        since: this.#now(),
      };
      try {
        await alerts.create(key, JSON.stringify(record));
      } catch (e) {
        if (isRevisionConflict(e)) return; // another instance raised it meanwhile
        throw e;
      }
      await this.#publish({ ...record, state: "raised" });
    } else if (rate <= threshold && isRaised) {
      try {
        await alerts.delete(key, { previousSeq: raised.revision });
      } catch (e) {
        if (isRevisionConflict(e)) return; // changed or cleared by another instance meanwhile
        throw e;
      }
      await this.#publish({
        deviceId,
        kind: "review_rate",
        severity: "warning",
        message,
        value: rate,
        state: "cleared",
      });
    }
  }

  async #publish(
    a: {
      deviceId: string;
      kind: "review_rate";
      severity: "warning";
      message: string;
      value: number;
      state: "raised" | "cleared";
    },
  ): Promise<void> {
    const { deviceId, kind, severity, message, value, state } = a;
    await jetstream(this.#nc).publish(
      subjects.alert(this.#o.region, kind),
      alert.encode({
        ...newEnvelope(this.#now()),
        deviceId,
        kind,
        state,
        severity,
        message: message.slice(0, 200),
        value,
      }),
    );
  }
}
