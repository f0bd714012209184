/**
 * A door session's evidence: what the recognizer read in every slot just before the door opened
 * and just after it closed (the planogram's SKU, the model's SKU and unit count with their
 * probabilities), and where it cut each slot from each camera's picture at those two moments
 * (the calibrated region as the camera's registration moved it, and the light's gain). The device
 * sends it with the session's outcome; the cloud keeps it with the session's clips as a field
 * sample, from which a dataset builder cuts the same crops again and labels them.
 *
 * @example
 * ```ts
 * import { sessionEvidence } from "./session_evidence.ts";
 *
 * const view = { cameraId: "cam-1", sku: Float32Array.of(0.1, 0.9), count: Float32Array.of(0, 1) };
 * const slot = { shelf: 0, slot: 0, sku: "COLA-330", views: [view] };
 * const region = { x0: 0.1, y0: 0.1, x1: 0.3, y1: 0.3 };
 * const at = { ts: 1000, gain: { "cam-1": [1, 1, 1] as const }, regions: [{ "cam-1": region }] };
 * const e = sessionEvidence(
 *   { evidence: [slot], ...at },
 *   { evidence: [slot], ...at, ts: 9000 },
 *   { labels: ["empty", "COLA-330"], planogramVersion: 3 },
 * );
 * console.log(e.slots[0]?.before); // { sku: "COLA-330", skuP: 0.9, count: 1, countP: 1 }
 * ```
 *
 * @module
 */
import type { Triple } from "../wasm/mod.ts";
import { mostLikely, poolViews, type SlotEvidence } from "./cart_decision.ts";
import type { Region } from "./planogram.ts";

/** What the model read in one slot at one moment, all its cameras pooled. */
export interface SlotReading {
  /** The most likely SKU label (`empty` included). */
  readonly sku: string;
  readonly skuP: number;
  /** The most likely unit count. */
  readonly count: number;
  readonly countP: number;
}

/** Where one camera's crop of a slot was cut, before and after the session (picture units). */
export interface SlotCut {
  readonly before?: Region;
  readonly after?: Region;
}

/** One slot's evidence. */
export interface SlotRecord {
  readonly shelf: number;
  readonly slot: number;
  /** The planogram's SKU (null: left empty). */
  readonly sku: string | null;
  readonly before: SlotReading | null;
  readonly after: SlotReading | null;
  /** By camera id. */
  readonly regions: Readonly<Record<string, SlotCut>>;
}

/** One of the two moments: the picture's time (frame clock) and each camera's light gain. */
export interface EvidenceMoment {
  readonly ts: number;
  /** Per camera, the light's gain per channel against its reference (1: as calibrated). */
  readonly gain: Readonly<Record<string, Triple>>;
}

/** A door session's evidence. */
export interface SessionEvidence {
  /** The cloud's planogram version the session was decided by (null: none, or a fixed one). */
  readonly planogramVersion: number | null;
  readonly before: EvidenceMoment;
  readonly after: EvidenceMoment;
  readonly slots: readonly SlotRecord[];
}

/** What {@link sessionEvidence} reads at one moment. */
export interface MomentInput extends EvidenceMoment {
  /** The pooled slot evidence of the moment (the planogram's slots, in its order). */
  readonly evidence: readonly SlotEvidence[];
  /** Per slot (the planogram's order), where each camera's crop was cut at `ts`. */
  readonly regions: readonly Readonly<Record<string, Region>>[];
}

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;
const roundRegion = (r: Region): Region => ({
  x0: round(r.x0),
  y0: round(r.y0),
  x1: round(r.x1),
  y1: round(r.y1),
});

function reading(e: SlotEvidence | undefined, labels: readonly string[]): SlotReading | null {
  if (!e || e.views.length === 0) return null;
  const [s, skuP] = mostLikely(poolViews(e.views.map((v) => v.sku), labels.length));
  const counts = e.views[0]!.count.length;
  const [count, countP] = mostLikely(poolViews(e.views.map((v) => v.count), counts));
  return { sku: labels[s] ?? "empty", skuP: round(skuP), count, countP: round(countP) };
}

/** The evidence of a session from its two moments (see the module documentation). */
export function sessionEvidence(
  before: MomentInput,
  after: MomentInput,
  options: { readonly labels: readonly string[]; readonly planogramVersion?: number | null },
): SessionEvidence {
  if (before.evidence.length !== after.evidence.length) {
    throw new RangeError(
      `Cannot pair ${before.evidence.length} slots before with ${after.evidence.length} after`,
    );
  }
  const slots = before.evidence.map((b, i): SlotRecord => {
    const regions: Record<string, { before?: Region; after?: Region }> = {};
    for (const [cameraId, r] of Object.entries(before.regions[i] ?? {})) {
      regions[cameraId] = { before: roundRegion(r) };
    }
    for (const [cameraId, r] of Object.entries(after.regions[i] ?? {})) {
      regions[cameraId] = { ...regions[cameraId], after: roundRegion(r) };
    }
    return {
      shelf: b.shelf,
      slot: b.slot,
      sku: b.sku,
      before: reading(b, options.labels),
      after: reading(after.evidence[i], options.labels),
      regions,
    };
  });
  const moment = (m: MomentInput): EvidenceMoment => ({
    ts: m.ts,
    gain: Object.fromEntries(
      Object.entries(m.gain).map((
        [id, [r, g, b]],
      ) => [id, [round(r, 3), round(g, 3), round(b, 3)]]),
    ),
  });
  return {
    planogramVersion: options.planogramVersion ?? null,
    before: moment(before),
    after: moment(after),
    slots,
  };
}
