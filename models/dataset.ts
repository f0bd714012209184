/**
 * Training and evaluation data from the synthetic camera's renderer: for each scenario seed, the
 * cabinet is rendered from every camera at moments before a door session, after it and while the
 * shopper's hand takes or returns a unit (lighting changes, an occluding hand, blur and noise in
 * the "hard" half), and every slot is cropped the way the live pipeline crops it (`slotCrops`).
 * Each crop is labelled with the slot's SKU (or `empty`), its unit count, and what is over it: no
 * hand, or a hand holding nothing or a product (the crops of hands holding products), all from
 * the scenario's ground truth. Pairs of seeds alternate between frame sizes (full and half), and
 * seeds decide everything, so a dataset is reproducible and evaluation seeds can be kept apart
 * from training seeds.
 *
 * @example
 * ```ts
 * import { referenceKernels } from "../wasm/mod.ts";
 * import { renderDataset } from "./dataset.ts";
 *
 * const data = renderDataset([1, 2], { kernels: referenceKernels });
 * console.log(data.n, data.sku[0], data.count[0]);
 * ```
 *
 * @module
 */
import {
  handOver,
  prng,
  randomScenario,
  renderView,
  type Scenario,
  simulatedPlanogram,
  slotCrops,
  stockAt,
} from "../pipeline/mod.ts";
import type { PixelKernels, Triple } from "../wasm/mod.ts";
import { type Catalogue, catalogueProducts, DEFAULT_CATALOGUE, skuLabels } from "./catalogue.ts";

/** The model's input: square RGB crops, normalised per channel. */
export interface InputSpec {
  /** Side of the square crop, pixels. */
  readonly size: number;
  /** Per-channel mean, 0..1. */
  readonly mean: Triple;
  /** Per-channel standard deviation, 0..1. */
  readonly std: Triple;
  /** Frame size the model is made for (crops are letterboxed to `size`, so others work too). */
  readonly frame: { readonly width: number; readonly height: number };
}

/** The input of the default model. */
export const DEFAULT_INPUT: InputSpec = {
  size: 32,
  mean: [0.45, 0.45, 0.45],
  std: [0.25, 0.25, 0.25],
  frame: { width: 640, height: 480 },
};

/** Most units a count label distinguishes (more are labelled as this many). */
export const MAX_COUNT = 4;

/** Crops and their labels. */
export interface Dataset {
  /** Number of crops. */
  readonly n: number;
  /** The crops, NCHW, `n * 3 * size * size` floats. */
  readonly x: Float32Array;
  /** SKU label of each crop: index into the catalogue's labels (0 = empty). */
  readonly sku: Int32Array;
  /** Unit count label of each crop, 0..{@link MAX_COUNT}. */
  readonly count: Int32Array;
  /** Hand label of each crop (see {@link handClass}). */
  readonly hand: Int32Array;
  /** Whether each crop comes from a hard scenario. */
  readonly hard: Uint8Array;
  /** Input spec the crops follow. */
  readonly input: InputSpec;
  /** SKU labels, in label order. */
  readonly labels: readonly string[];
}

/** Options of {@link renderDataset}. */
export interface RenderDatasetOptions {
  /** Pixel kernels for the crops. */
  readonly kernels: PixelKernels;
  /** Default {@link DEFAULT_CATALOGUE}. */
  readonly catalogue?: Catalogue;
  /** Default {@link DEFAULT_INPUT}. */
  readonly input?: InputSpec;
  /**
   * Moments rendered per scenario (all cameras each): before and after each session, the rest
   * while a hand takes or returns a unit. Default 8.
   */
  readonly moments?: number;
  /**
   * Crops kept per camera of a moment while the door is open: up to this many slots with a hand
   * over them and as many clear ones (picked by the seed), so that an open door's light does not
   * itself come to mean "a hand". Default 3.
   */
  readonly inSessionCrops?: number;
  /** Whether a seed's scenario is hard. Default: odd seeds. */
  readonly hard?: (seed: number) => boolean;
  /**
   * Frame sizes the cameras film at, one per seed in turn (a cabinet's cameras may run at any of
   * them). Default: the input spec's frame and a quarter of it (half the width and height).
   */
  readonly frames?: readonly { readonly width: number; readonly height: number }[];
  /** Told after each scenario. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Classes of the hand head: 0 no hand over the slot, `1 + i` a hand holding `labels[i]` (so 1 is
 * a hand holding nothing, `labels[0]` being `empty`).
 */
export function handClass(
  over: { readonly hand: boolean; readonly holding: string | null },
  labels: readonly string[],
): number {
  if (!over.hand) return 0;
  const i = over.holding ? labels.indexOf(over.holding) : 0;
  return 1 + Math.max(0, i);
}

/**
 * Moments worth learning from: before and after each session, then while a hand is at a slot
 * (within 300 ms of a take or return, when it holds the unit or reaches for it).
 */
export function datasetMoments(scenario: Scenario, count: number, seed: number): number[] {
  const rand = prng(seed ^ 0x5bd1e995);
  const out: number[] = [];
  for (const s of scenario.sessions) {
    out.push(s.openAt - 100, s.closeAt + 400);
  }
  while (out.length < count) {
    const a = scenario.actions[Math.floor(rand() * scenario.actions.length)];
    if (a) out.push(Math.round(a.at + (rand() * 2 - 1) * 300));
    else {
      const s = scenario.sessions[Math.floor(rand() * scenario.sessions.length)]!;
      out.push(Math.round(s.openAt + rand() * (s.closeAt - s.openAt)));
    }
  }
  return out.slice(0, count);
}

/** Renders the crops of `seeds`' scenarios with their labels. */
export function renderDataset(seeds: readonly number[], options: RenderDatasetOptions): Dataset {
  const input = options.input ?? DEFAULT_INPUT;
  const catalogue = options.catalogue ?? DEFAULT_CATALOGUE;
  const labels = skuLabels(catalogue);
  const products = catalogueProducts(catalogue);
  const isHard = options.hard ?? ((seed: number) => seed % 2 === 1);
  const moments = options.moments ?? 8;
  const inSession = options.inSessionCrops ?? 3;
  const per = 3 * input.size * input.size;
  const chunks: Float32Array[] = [];
  const sku: number[] = [];
  const count: number[] = [];
  const hand: number[] = [];
  const hard: number[] = [];
  const frames = options.frames ?? [
    input.frame,
    { width: Math.round(input.frame.width / 2), height: Math.round(input.frame.height / 2) },
  ];
  seeds.forEach((seed, done) => {
    const h = isHard(seed);
    const scenario = randomScenario(seed, { hard: h, products, sessions: 2 });
    const planogram = simulatedPlanogram(scenario);
    const pick = prng(seed ^ 0x27d4eb2f);
    // Pairs of seeds share a frame size, so that hard and clean scenarios (odd and even seeds by
    // default) are filmed at every size.
    const { width, height } = frames[Math.floor(done / 2) % frames.length]!;
    const frame = new Uint8Array(width * height * 4);
    for (const t of datasetMoments(scenario, moments, seed)) {
      const stock = stockAt(scenario, t);
      const open = scenario.sessions.some((s) => t >= s.openAt && t <= s.closeAt);
      for (const camera of scenario.cameras) {
        let slots = planogram.slots.filter((s) => s.regions[camera.cameraId]).map((s) => ({
          s,
          over: handClass(handOver(scenario, t, s), labels),
        }));
        if (open) {
          // While the door is open, the slots a hand is over and as many clear ones teach the
          // most; the rest look like the moments before and after.
          const covered = slots.filter((x) => x.over > 0);
          const clear = slots.filter((x) => x.over === 0);
          for (let i = clear.length - 1; i > 0; i--) {
            const j = Math.floor(pick() * (i + 1));
            [clear[i], clear[j]] = [clear[j]!, clear[i]!];
          }
          slots = [...covered.slice(0, inSession), ...clear.slice(0, inSession)];
        }
        renderView(scenario, camera.cameraId, t, { width, height, into: frame });
        const crops = slotCrops(
          { data: frame, width, height },
          slots.map((x) => x.s.regions[camera.cameraId]!),
          { kernels: options.kernels, size: input.size, mean: input.mean, std: input.std },
        );
        chunks.push(crops);
        for (const { s, over } of slots) {
          const units = s.sku ? stock[s.shelf]![s.slot]! : 0;
          sku.push(units > 0 ? labels.indexOf(s.sku!) : 0);
          count.push(Math.min(units, MAX_COUNT));
          hand.push(over);
          hard.push(h ? 1 : 0);
        }
      }
    }
    options.onProgress?.(done + 1, seeds.length);
  });
  const x = new Float32Array(sku.length * per);
  let at = 0;
  for (const c of chunks) {
    x.set(c, at);
    at += c.length;
  }
  return {
    n: sku.length,
    x,
    sku: Int32Array.from(sku),
    count: Int32Array.from(count),
    hand: Int32Array.from(hand),
    hard: Uint8Array.from(hard),
    input,
    labels,
  };
}
