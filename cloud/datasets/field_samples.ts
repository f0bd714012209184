/**
 * Field samples: each door session kept as one sample for training and evaluation: what the
 * device decided (cart, confidence, review reasons, model version) with its per-slot evidence
 * (what each slot showed before and after, where each camera's crop was cut), and the clips its
 * cabinet uploaded (object names and what the device said of them: frames, first and last frame
 * time). A durable consumer of the region's EVENTS stream (shared by the cloud instances) builds
 * them in the regional `field_samples` bucket, one key per session, from `session_completed`
 * (accepted only from the device the session's unlock went to) and clip-uploaded events (only
 * from that device's cabinet), in either order, under compare-and-swap. The sample's label is
 * not stored: it is the payment session's outcome, read when the samples are listed (see
 * `field_label.ts`). The clips are the customer's video: they expire (see `clip_retention.ts`).
 *
 * @example
 * ```ts
 * import { FieldSamples } from "./field_samples.ts";
 *
 * const samples = await FieldSamples.open(nc, { region: "local", retention: { days: 30, heldDays: 365 } });
 * console.log((await samples.get("0193a1b2-c3d4-7e5f-8a9b-000000000001"))?.clips.length);
 * ```
 *
 * @module
 */
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import {
  buckets,
  type CandidateDecision,
  type ClipUploaded,
  parseClipUploaded,
  parsePipelineEvent,
  type PipelineEvent,
  type SessionEvidenceWire,
  streamName,
} from "../../protocol/mod.ts";
import { compareAndSwap, type Logger } from "../../runtime/mod.ts";
import { fetchLoop, isConsumerExists, openKv } from "../nats/mod.ts";
import { sessionCabinet } from "../checkout/mod.ts";

type DoorOutcome = Extract<PipelineEvent, { type: "session_completed" }>;

/** One clip of a sample, as its device announced it. */
export interface FieldClip {
  /** Object name in the `clips` store: `<deviceId>/<sessionId>/<cameraId>-<part>.mp4`. */
  readonly object: string;
  readonly deviceId: string;
  readonly cameraId: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly frames: number;
  /** First and last frame time (the machine's reference clock, Unix ms). */
  readonly startTs: number;
  readonly endTs: number;
}

/** What the device decided. */
export interface FieldDecision {
  readonly cart: readonly { readonly sku: string; readonly qty: number }[];
  readonly confidence: number;
  readonly lineConfidence: Readonly<Record<string, number>> | null;
  readonly reviewReasons: readonly string[];
}

/** One door session as a field sample. */
export interface FieldSample {
  readonly sessionId: string;
  /** Known once the outcome came (a clip may come first). */
  readonly machineId: string | null;
  /** The device that decided. */
  readonly deviceId: string | null;
  readonly openedAt: number | null;
  readonly closedAt: number | null;
  readonly modelVersion: string | null;
  readonly decision: FieldDecision | null;
  /** The device's per-slot evidence (null: a build that sent none). */
  readonly evidence: SessionEvidenceWire | null;
  /**
   * A candidate model's decision of the same session (shadow evaluation; never charged). Null or
   * absent: no candidate ran (absent in samples stored before candidates were kept).
   */
  readonly candidate?: CandidateDecision | null;
  readonly clips: readonly FieldClip[];
  /** When the cloud first heard of the session (Unix ms). */
  readonly recordedAt: number;
  /** When the clips expire unless something holds them (Unix ms). */
  readonly clipsExpireAt: number;
  /** When retention deleted the clips (null: they are kept). */
  readonly clipsDeletedAt: number | null;
}

/** How long clips are kept, days. */
export interface ClipRetentionPolicy {
  /** A session's clips, from its door closing. */
  readonly days: number;
  /** Clips held by a review or a dispute (the reviewed ones are the training set). */
  readonly heldDays: number;
}

/** Options of {@link FieldSamples.open}. */
export interface FieldSamplesOptions {
  readonly region: string;
  readonly retention: ClipRetentionPolicy;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  readonly logger?: Logger | undefined;
}

const DAY_MS = 86_400_000;

/** Counted reasons an event made no sample (by kind). */
export type IgnoredReason = "not_from_unlocked_device" | "not_from_cabinet" | "malformed";

/** The region's field samples: built from its EVENTS stream, read by the dataset routes. */
export class FieldSamples {
  readonly #nc: NatsConnection;
  readonly #o: FieldSamplesOptions;
  readonly #kv: KV;
  readonly #ignored = new Map<IgnoredReason, number>();

  private constructor(nc: NatsConnection, o: FieldSamplesOptions, kv: KV) {
    this.#nc = nc;
    this.#o = o;
    this.#kv = kv;
  }

  /** Opens the samples (creating the bucket when missing). */
  static async open(nc: NatsConnection, options: FieldSamplesOptions): Promise<FieldSamples> {
    for (const [name, v] of Object.entries(options.retention)) {
      if (!(Number.isFinite(v) && v > 0)) {
        throw new RangeError(`Cannot keep clips for ${v} days (retention.${name}): above 0`);
      }
    }
    return new FieldSamples(
      nc,
      options,
      await openKv(nc, buckets.fieldSamples, { history: 1 }),
    );
  }

  /** The retention policy. */
  get retention(): ClipRetentionPolicy {
    return this.#o.retention;
  }

  /** Events that made no sample since start, by reason. */
  get ignored(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#ignored);
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** A session's sample, if there is one. */
  async get(sessionId: string): Promise<FieldSample | undefined> {
    const e = await this.#kv.get(sessionId);
    return e?.operation === "PUT" ? e.json<FieldSample>() : undefined;
  }

  /** Every sample, oldest session first (session ids are time-ordered), read as taken. */
  async *each(): AsyncGenerator<FieldSample> {
    const keys: string[] = [];
    for await (const key of await this.#kv.keys()) keys.push(key);
    keys.sort();
    for (const key of keys) {
      const s = await this.get(key);
      if (s) yield s;
    }
  }

  /** Changes a session's sample under compare-and-swap (`change` returns undefined: no change). */
  async update(
    sessionId: string,
    change: (s: FieldSample | undefined) => FieldSample | undefined,
  ): Promise<void> {
    await compareAndSwap<FieldSample>({ kv: this.#kv, key: sessionId }, change, { attempts: 50 });
  }

  #empty(sessionId: string): FieldSample {
    const now = this.#now();
    return {
      sessionId,
      machineId: null,
      deviceId: null,
      openedAt: null,
      closedAt: null,
      modelVersion: null,
      decision: null,
      evidence: null,
      candidate: null,
      clips: [],
      recordedAt: now,
      clipsExpireAt: now + this.#o.retention.days * DAY_MS,
      clipsDeletedAt: null,
    };
  }

  /** Takes a session's outcome into its sample (a repeat changes nothing). */
  async outcome(e: DoorOutcome): Promise<void> {
    await this.update(e.sessionId, (s) => {
      if (s?.decision) return undefined;
      const base = s ?? this.#empty(e.sessionId);
      return {
        ...base,
        machineId: e.machineId,
        deviceId: e.deviceId,
        openedAt: e.openedAt,
        closedAt: e.closedAt,
        modelVersion: e.modelVersion,
        decision: {
          cart: e.cart,
          confidence: e.confidence,
          lineConfidence: e.lineConfidence ?? null,
          reviewReasons: e.review.reasons,
        },
        evidence: e.evidence ?? null,
        candidate: e.candidate ?? null,
        // The clips are kept from the door's closing (by the cloud's clock, if the device's is
        // ahead of it: a device's clock does not keep them longer).
        clipsExpireAt: Math.min(e.closedAt, this.#now()) + this.#o.retention.days * DAY_MS,
      };
    });
  }

  /** Takes a clip into its session's sample (a repeat changes nothing). */
  async clip(c: ClipUploaded): Promise<void> {
    const clip: FieldClip = {
      object: c.object,
      deviceId: c.deviceId,
      cameraId: c.cameraId,
      sha256: c.sha256,
      bytes: c.bytes,
      width: c.width,
      height: c.height,
      frames: c.frames,
      startTs: c.startTs,
      endTs: c.endTs,
    };
    await this.update(c.sessionId, (s) => {
      const base = s ?? this.#empty(c.sessionId);
      if (base.clips.some((x) => x.object === clip.object)) return undefined;
      const clips = [...base.clips, clip].sort((a, b) => a.object.localeCompare(b.object));
      return { ...base, clips };
    });
  }

  /**
   * Builds the samples from the region's EVENTS stream (a durable consumer shared by the cloud
   * instances) until `signal` aborts; a message is acknowledged once its sample is stored.
   */
  async run(signal: AbortSignal): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    const stream = streamName("EVENTS", this.#o.region);
    await jsm.consumers.add(stream, {
      durable_name: "field-samples",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
    }).catch((err) => {
      if (!isConsumerExists(err)) throw err;
    });
    const consumer = await jetstream(this.#nc).consumers.get(stream, "field-samples");
    await fetchLoop(consumer, (m) => this.#handle(m), {
      signal,
      maxMessages: 64,
      concurrency: 8,
      logger: this.#o.logger,
      what: "door sessions to keep as field samples",
    });
  }

  #ignore(reason: IgnoredReason, m: JsMsg, fields: Record<string, unknown> = {}): void {
    this.#ignored.set(reason, (this.#ignored.get(reason) ?? 0) + 1);
    this.#o.logger?.log("warn", "an event made no field sample", {
      reason,
      subject: m.subject,
      ...fields,
    });
    m.term();
  }

  async #handle(m: JsMsg): Promise<void> {
    if (m.subject.endsWith(".clip")) {
      const c = parseClipUploaded(m.data);
      if (!c.ok) return this.#ignore("malformed", m, { field: c.error.field });
      const cabinet = await sessionCabinet(this.#nc, {
        region: this.#o.region,
        sessionId: c.value.sessionId,
      });
      if (!cabinet.devices.has(c.value.deviceId)) {
        return this.#ignore("not_from_cabinet", m, { deviceId: c.value.deviceId });
      }
      await this.clip(c.value);
      return m.ack();
    }
    if (!m.subject.endsWith(".evt.session_completed")) return m.ack();
    const e = parsePipelineEvent(m.data);
    if (!e.ok || e.value.type !== "session_completed") {
      return this.#ignore("malformed", m, e.ok ? {} : { field: e.error.field });
    }
    const cabinet = await sessionCabinet(this.#nc, {
      region: this.#o.region,
      sessionId: e.value.sessionId,
    });
    // The outcome of the device the session's unlock went to only (as the payment flow).
    if (cabinet.unlocked !== e.value.deviceId) {
      return this.#ignore("not_from_unlocked_device", m, { deviceId: e.value.deviceId });
    }
    await this.outcome(e.value);
    m.ack();
  }
}
