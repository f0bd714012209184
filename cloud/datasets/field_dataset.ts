/**
 * The field dataset: the region's field samples that carry a label, filtered by machine, period,
 * model version and label source, each with the planogram version its session was decided by.
 * A sample that cannot be a training sample is left out and counted by reason: no label (see
 * `field_label.ts`), no per-slot evidence (an older build), a planogram version the cloud does
 * not know, no clips, or clips retention deleted.
 *
 * @example
 * ```ts
 * import { FieldDataset } from "./field_dataset.ts";
 *
 * declare const dataset: FieldDataset;
 * const { samples, skipped } = await dataset.list({ label: "reviewed", machineId: "m001" });
 * console.log(samples.length, skipped);
 * ```
 *
 * @module
 */
import type { PaymentSession } from "../../payments/mod.ts";
import type { SlotAssignment } from "../../protocol/mod.ts";
import { PaymentNotFoundError } from "../checkout/mod.ts";
import { type FieldLabel, fieldLabel, type LabelSource, type SkipReason } from "./field_label.ts";
import type { FieldSample, FieldSamples } from "./field_samples.ts";
import { compareShadow, type ShadowComparison, type ShadowSession } from "./shadow_comparison.ts";

/** Which samples {@link FieldDataset.list} returns. */
export interface FieldQuery {
  readonly machineId?: string;
  /** Doors closed at or after (Unix ms). */
  readonly since?: number;
  /** Doors closed before (Unix ms). */
  readonly until?: number;
  /** The model version that decided. */
  readonly modelVersion?: string;
  /** Who knows the label; default any. */
  readonly label?: LabelSource | "any";
  /** A cart charged without review labels a sample from this confidence on. Default 0.95. */
  readonly minConfidence?: number;
  /** At most this many samples (oldest first). Default 1,000. */
  readonly limit?: number;
}

/** Which sessions {@link FieldDataset.compareShadow} scores. */
export interface ShadowQuery {
  /** The candidate model's version. */
  readonly candidate: string;
  /** The devices that ran it (a deployment's). */
  readonly deviceIds: ReadonlySet<string>;
  /** Doors closed at or after (Unix ms): the deployment's creation. */
  readonly since: number;
  /** Reviewed sessions needed for a verdict. */
  readonly minReviewed: number;
}

/** Why a sample is not in the dataset. */
export type DatasetSkipReason =
  | SkipReason
  | "no_evidence"
  | "unknown_planogram"
  | "no_clips"
  | "clips_deleted"
  | "not_sold_here";

/** A training sample: the sample, its label and the planogram its session was decided by. */
export interface LabelledSample {
  readonly sample: FieldSample;
  readonly label: FieldLabel;
  readonly planogram: { readonly version: number; readonly slots: readonly SlotAssignment[] };
}

/** What {@link FieldDataset.list} found. */
export interface FieldListing {
  readonly samples: readonly LabelledSample[];
  /** Samples that matched the filters and were left out, by reason. */
  readonly skipped: Readonly<Partial<Record<DatasetSkipReason, number>>>;
  /** Samples that matched the filters (kept or skipped). */
  readonly matched: number;
}

/** What {@link FieldDataset} reads besides the samples. */
export interface FieldDatasetParts {
  readonly samples: FieldSamples;
  readonly sessions: { get(sessionId: string): Promise<PaymentSession> };
  /** A machine's planogram versions (the cloud keeps the last ones). */
  readonly planograms: {
    versions(
      machineId: string,
    ): Promise<readonly { version: number; slots: readonly SlotAssignment[] }[]>;
  };
  /** The SKUs a machine sells (its price list's). */
  readonly skusOf: (machineId: string) => Promise<ReadonlySet<string>>;
}

/** The labelled samples of the region. */
export class FieldDataset {
  readonly #p: FieldDatasetParts;

  /** Creates the dataset over the samples. */
  constructor(parts: FieldDatasetParts) {
    this.#p = parts;
  }

  /** The samples matching `q` (see {@link FieldQuery}), with what was left out and why. */
  async list(q: FieldQuery = {}): Promise<FieldListing> {
    const limit = q.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
      throw new RangeError(`Cannot list ${limit} samples: 1-100000`);
    }
    const minConfidence = q.minConfidence ?? 0.95;
    const skipped: Partial<Record<DatasetSkipReason, number>> = {};
    const skip = (r: DatasetSkipReason) => (skipped[r] = (skipped[r] ?? 0) + 1);
    const out: LabelledSample[] = [];
    const planograms = new Map<string, Map<number, readonly SlotAssignment[]>>();
    const skus = new Map<string, ReadonlySet<string>>();
    let matched = 0;
    for await (const sample of this.#p.samples.each()) {
      if (out.length >= limit) break;
      if (!matches(sample, q)) continue;
      matched++;
      const machineId = sample.machineId;
      if (!machineId || !sample.decision) {
        skip("not_decided");
        continue;
      }
      const session = await this.#p.sessions.get(sample.sessionId).catch((e) => {
        if (e instanceof PaymentNotFoundError) return undefined;
        throw e;
      });
      if (!session) {
        skip("not_sold_here");
        continue;
      }
      if (!skus.has(machineId)) skus.set(machineId, await this.#p.skusOf(machineId));
      const labelled = fieldLabel(session, { minConfidence, skus: skus.get(machineId)! });
      if ("skip" in labelled) {
        skip(labelled.skip);
        continue;
      }
      if (q.label && q.label !== "any" && labelled.label.source !== q.label) continue;
      const version = sample.evidence?.planogramVersion;
      if (!sample.evidence) {
        skip("no_evidence");
        continue;
      }
      if (!planograms.has(machineId)) {
        const versions = await this.#p.planograms.versions(machineId);
        planograms.set(machineId, new Map(versions.map((p) => [p.version, p.slots])));
      }
      const slots = version ? planograms.get(machineId)!.get(version) : undefined;
      if (!version || !slots) {
        skip("unknown_planogram");
        continue;
      }
      if (sample.clipsDeletedAt !== null) {
        skip("clips_deleted");
        continue;
      }
      if (sample.clips.length === 0) {
        skip("no_clips");
        continue;
      }
      out.push({ sample, label: labelled.label, planogram: { version, slots } });
    }
    return { samples: out, skipped, matched };
  }

  /**
   * Scores a candidate model (shadow evaluation) against the live one on the sessions `q`'s
   * devices decided with both, the truth being a person's review (see `shadow_comparison.ts`).
   */
  async compareShadow(q: ShadowQuery): Promise<ShadowComparison> {
    const sessions: ShadowSession[] = [];
    const skus = new Map<string, ReadonlySet<string>>();
    for await (const sample of this.#p.samples.each()) {
      const { machineId, deviceId } = sample;
      if (!machineId || !deviceId || !q.deviceIds.has(deviceId) || !sample.decision) continue;
      if ((sample.closedAt ?? sample.recordedAt) < q.since) continue;
      if (sample.candidate?.modelVersion !== q.candidate) continue;
      const session = await this.#p.sessions.get(sample.sessionId).catch((e) => {
        if (e instanceof PaymentNotFoundError) return undefined;
        throw e;
      });
      if (session && !skus.has(machineId)) skus.set(machineId, await this.#p.skusOf(machineId));
      const labelled = session &&
        fieldLabel(session, { minConfidence: 1, skus: skus.get(machineId)! });
      const truth = labelled && "label" in labelled && labelled.label.source === "reviewed"
        ? labelled.label.cart
        : null;
      sessions.push({ sample, truth });
    }
    return compareShadow(sessions, { candidate: q.candidate, minReviewed: q.minReviewed });
  }
}

function matches(s: FieldSample, q: FieldQuery): boolean {
  if (q.machineId !== undefined && s.machineId !== q.machineId) return false;
  if (q.modelVersion !== undefined && s.modelVersion !== q.modelVersion) return false;
  const at = s.closedAt ?? s.recordedAt;
  if (q.since !== undefined && at < q.since) return false;
  if (q.until !== undefined && at >= q.until) return false;
  return true;
}
