/**
 * Training crops from the field: each labelled field sample's clips decoded (ffmpeg.wasm, through
 * `ClipDecoder`) at the two moments the device read the shelves (the last picture before the door
 * opened, the first after it closed and settled), each slot cut again where the device cut it
 * (its calibrated region as the camera's registration moved it, normalised for the light's gain)
 * and labelled from the session's final cart and the machine's planogram at the version the
 * session was decided by:
 *
 * - the SKU is the planogram's (`empty` when no unit is left);
 * - the unit counts come from the device's reading on one side when it was sure of it (0.9 by
 *   default) and the cart on the other (before = after + taken): a slot whose SKU stands in
 *   several slots, or whose sure readings disagree with the cart, has no count label;
 * - a slot where the model that decided saw another product it knows (above 0.5) while the
 *   planogram's is one it knows too has no label: the slot may hold something else. A product the
 *   model did not know is trusted to the planogram only where the cart says it was taken.
 *
 * Whatever has no sure label is left out, not guessed, and counted by reason; so is a clip whose
 * bytes are not its SHA-256's, that ffmpeg cannot read, that holds fewer frames than it said, or
 * that does not hold the moment, and a sample without evidence or decided by another planogram
 * version than the one given. Every crop keeps where it came from and who knew its label.
 *
 * @example
 * ```ts
 * import { ClipDecoder } from "../pipeline/mod.ts";
 * import { loadWasmKernels } from "../wasm/mod.ts";
 * import { DEFAULT_INPUT, fieldCrops, type FieldSampleInput } from "./mod.ts";
 *
 * declare const samples: FieldSampleInput[];
 * declare const readClip: (sessionId: string, object: string) => Promise<Uint8Array>;
 * await using decoder = new ClipDecoder();
 * const r = await fieldCrops(samples, {
 *   labels: ["empty", "COLA-330"],
 *   input: DEFAULT_INPUT,
 *   kernels: await loadWasmKernels(),
 *   decoder,
 *   readClip,
 * });
 * console.log(r.dataset.n, r.skipped);
 * ```
 *
 * @module
 */
import {
  ClipDecodeError,
  type ClipDecoder,
  type Region,
  slotCrops,
  underLight,
} from "../pipeline/mod.ts";
import { type SessionEvidenceWire, type SlotAssignment, toHex } from "../protocol/mod.ts";
import type { PixelKernels, RgbaImage } from "../wasm/mod.ts";
import { type Dataset, type InputSpec, MAX_COUNT } from "./dataset.ts";

/** A field sample as the cloud's export gives it (the fields this builder reads). */
export interface FieldSampleInput {
  readonly sample: {
    readonly sessionId: string;
    readonly evidence: SessionEvidenceWire | null;
    readonly clips: readonly {
      readonly object: string;
      readonly cameraId: string;
      readonly sha256: string;
      readonly width: number;
      readonly height: number;
      readonly frames: number;
      readonly startTs: number;
      readonly endTs: number;
    }[];
  };
  readonly label: {
    readonly source: "reviewed" | "confident";
    readonly cart: readonly { readonly sku: string; readonly qty: number }[];
  };
  readonly planogram: { readonly version: number; readonly slots: readonly SlotAssignment[] };
}

/** Where a field crop came from. */
export interface FieldCropOrigin {
  readonly sessionId: string;
  readonly moment: "before" | "after";
  readonly shelf: number;
  readonly slot: number;
  readonly cameraId: string;
  /** Who knew the label: a reviewer, or a confident charge nobody disputed. */
  readonly source: "reviewed" | "confident";
}

/** Why a sample, clip or slot gave no crop. */
export type FieldCropSkip =
  | "no_evidence"
  | "unknown_planogram"
  | "clip_corrupt"
  | "clip_unreadable"
  | "clip_truncated"
  | "moment_not_in_clip"
  | "planogram_mismatch"
  | "sku_not_in_labels"
  | "slot_disagrees"
  | "count_uncertain"
  | "not_seen";

/** Options of {@link fieldCrops}. */
export interface FieldCropsOptions {
  /** The labels the crops are for (the model to train's), `empty` first. */
  readonly labels: readonly string[];
  readonly input: InputSpec;
  readonly kernels: PixelKernels;
  readonly decoder: Pick<ClipDecoder, "decode">;
  /** Reads a clip's bytes. */
  readonly readClip: (sessionId: string, object: string) => Promise<Uint8Array>;
  /** The labels of the model that decided the sessions (what it could know). Default `labels`. */
  readonly modelLabels?: readonly string[];
  /** A device's count reading is trusted from this probability. Default 0.9. */
  readonly sureCount?: number;
  /** Told after each sample. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What {@link fieldCrops} built. */
export interface FieldCrops {
  /** The crops (no hand is over a slot at either moment: hand 0). */
  readonly dataset: Dataset;
  /** Per crop. */
  readonly origin: readonly FieldCropOrigin[];
  /** Sessions that gave at least one crop. */
  readonly sessions: readonly string[];
  /** What was left out, by reason (samples, clips, slots, crops as each reason counts them). */
  readonly skipped: Readonly<Partial<Record<FieldCropSkip, number>>>;
}

interface SlotLabel {
  readonly sku: number;
  readonly count: number;
}

const key = (s: { shelf: number; slot: number }) => `${s.shelf}/${s.slot}`;

/**
 * Each slot's labels before and after (see the module documentation), or why it has none.
 */
export function slotLabels(
  x: FieldSampleInput,
  options: Pick<FieldCropsOptions, "labels" | "modelLabels" | "sureCount">,
): Map<string, { before: SlotLabel; after: SlotLabel } | FieldCropSkip> {
  const { labels } = options;
  const known = new Set(options.modelLabels ?? labels);
  const sure = options.sureCount ?? 0.9;
  const evidence = x.sample.evidence!;
  const planned = new Map(x.planogram.slots.map((s) => [key(s), s.sku]));
  const taken = new Map(x.label.cart.map((l) => [l.sku, l.qty]));
  const slotsOf = new Map<string, number>();
  for (const s of x.planogram.slots) if (s.sku) slotsOf.set(s.sku, (slotsOf.get(s.sku) ?? 0) + 1);
  const out = new Map<string, { before: SlotLabel; after: SlotLabel } | FieldCropSkip>();
  for (const e of evidence.slots) {
    const at = key(e);
    const sku = planned.get(at);
    if (sku === undefined || sku !== e.sku) {
      out.set(at, "planogram_mismatch");
      continue;
    }
    const skuIndex = sku === null ? 0 : labels.indexOf(sku);
    if (skuIndex < 0) {
      out.set(at, "sku_not_in_labels");
      continue;
    }
    if (!e.before || !e.after) {
      out.set(at, "not_seen");
      continue;
    }
    // Units taken from this slot: the cart's, when its SKU stands nowhere else.
    const qty = sku === null ? 0 : slotsOf.get(sku) === 1 ? taken.get(sku) ?? 0 : undefined;
    const b = e.before.countP >= sure ? e.before.count : undefined;
    const a = e.after.countP >= sure ? e.after.count : undefined;
    let before: number | undefined;
    let after: number | undefined;
    if (qty === undefined) {
      // The SKU in several slots: both sure readings, and all its slots' changes the cart's.
      [before, after] = [b, a];
    } else if (b !== undefined) {
      [before, after] = [b, b - qty];
      if (a !== undefined && a !== after) before = undefined;
    } else if (a !== undefined) [before, after] = [a + qty, a];
    if (
      before === undefined || after === undefined || after < 0 || before > MAX_COUNT ||
      (qty === undefined && !severalSlotsAgree(x, sku!, sure))
    ) {
      out.set(at, "count_uncertain");
      continue;
    }
    // The model saw another product it knows where the planogram says one it knows too.
    const disagrees = [[e.before, before], [e.after, after]].some(([r, units]) => {
      const reading = r as NonNullable<typeof e.before>;
      const expected = (units as number) > 0 ? (sku ?? "empty") : "empty";
      return reading.sku !== expected && reading.skuP > 0.5 && known.has(reading.sku) &&
        (known.has(expected) || !(sku && (taken.get(sku) ?? 0) > 0));
    });
    if (disagrees) {
      out.set(at, "slot_disagrees");
      continue;
    }
    out.set(at, {
      before: { sku: before > 0 ? skuIndex : 0, count: before },
      after: { sku: after > 0 ? skuIndex : 0, count: after },
    });
  }
  return out;
}

/** A SKU in several slots: every one read surely, and their changes add up to the cart's. */
function severalSlotsAgree(x: FieldSampleInput, sku: string, sure: number): boolean {
  let change = 0;
  for (const e of x.sample.evidence!.slots) {
    if (e.sku !== sku) continue;
    if (!e.before || !e.after || e.before.countP < sure || e.after.countP < sure) return false;
    change += e.before.count - e.after.count;
  }
  return change === (x.label.cart.find((l) => l.sku === sku)?.qty ?? 0);
}

/** Builds the crops of `samples` (see the module documentation). */
export async function fieldCrops(
  samples: readonly FieldSampleInput[],
  options: FieldCropsOptions,
): Promise<FieldCrops> {
  const { input, kernels } = options;
  const per = 3 * input.size * input.size;
  const chunks: Float32Array[] = [];
  const sku: number[] = [];
  const count: number[] = [];
  const origin: FieldCropOrigin[] = [];
  const sessions = new Set<string>();
  const skipped: Partial<Record<FieldCropSkip, number>> = {};
  const skip = (r: FieldCropSkip, n = 1) => (skipped[r] = (skipped[r] ?? 0) + n);
  for (const [i, x] of samples.entries()) {
    options.onProgress?.(i, samples.length);
    const evidence = x.sample.evidence;
    if (!evidence) {
      skip("no_evidence");
      continue;
    }
    if (evidence.planogramVersion !== x.planogram.version) {
      skip("unknown_planogram");
      continue;
    }
    const labels = slotLabels(x, options);
    for (const l of labels.values()) if (typeof l === "string") skip(l);
    for (const clip of x.sample.clips) {
      const pictures = await clipPictures(x, clip, options, skip);
      if (!pictures) continue;
      for (const moment of ["before", "after"] as const) {
        const picture = pictures[moment];
        const gain = evidence[moment].gain[clip.cameraId] ?? [1, 1, 1];
        for (const e of evidence.slots) {
          const label = labels.get(key(e));
          const region: Region | undefined = e.regions[clip.cameraId]?.[moment];
          if (!label || typeof label === "string" || !region) continue;
          chunks.push(slotCrops(picture, [region], {
            kernels,
            size: input.size,
            ...underLight(input, gain),
          }));
          sku.push(label[moment].sku);
          count.push(label[moment].count);
          origin.push({
            sessionId: x.sample.sessionId,
            moment,
            shelf: e.shelf,
            slot: e.slot,
            cameraId: clip.cameraId,
            source: x.label.source,
          });
          sessions.add(x.sample.sessionId);
        }
      }
    }
  }
  options.onProgress?.(samples.length, samples.length);
  const n = origin.length;
  const xs = new Float32Array(n * per);
  chunks.forEach((c, i) => xs.set(c, i * per));
  return {
    dataset: {
      n,
      x: xs,
      sku: Int32Array.from(sku),
      count: Int32Array.from(count),
      hand: new Int32Array(n),
      hard: new Uint8Array(n),
      input,
      labels: options.labels,
    },
    origin,
    sessions: [...sessions],
    skipped,
  };
}

/** A clip's pictures at the evidence's two moments, or undefined (counted) when it has none. */
async function clipPictures(
  x: FieldSampleInput,
  clip: FieldSampleInput["sample"]["clips"][number],
  options: FieldCropsOptions,
  skip: (r: FieldCropSkip) => void,
): Promise<{ before: RgbaImage; after: RgbaImage } | undefined> {
  const evidence = x.sample.evidence!;
  const bytes = await options.readClip(x.sample.sessionId, clip.object);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  if (toHex(digest) !== clip.sha256) {
    skip("clip_corrupt");
    return undefined;
  }
  // Frames are evenly spaced from the first frame's time to the last's.
  const period = clip.frames > 1 ? (clip.endTs - clip.startTs) / (clip.frames - 1) : Infinity;
  const index = (ts: number) => Math.round((ts - clip.startTs) / period);
  const at = { before: index(evidence.before.ts), after: index(evidence.after.ts) };
  const inside = (i: number, ts: number) =>
    Number.isFinite(i) && i >= 0 && i < clip.frames &&
    Math.abs(clip.startTs + i * period - ts) <= period;
  if (!inside(at.before, evidence.before.ts) || !inside(at.after, evidence.after.ts)) {
    skip("moment_not_in_clip");
    return undefined;
  }
  let decoded;
  try {
    decoded = await options.decoder.decode(bytes, {
      width: clip.width,
      height: clip.height,
      pick: [at.before, at.after],
    });
  } catch (e) {
    if (!(e instanceof ClipDecodeError)) throw e;
    skip("clip_unreadable");
    return undefined;
  }
  const before = decoded.pictures.get(at.before);
  const after = decoded.pictures.get(at.after);
  if (decoded.frames < clip.frames || !before || !after) {
    skip("clip_truncated");
    return undefined;
  }
  return { before, after };
}
