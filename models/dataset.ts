/**
 * Training and evaluation data from the synthetic camera's renderer: for each scenario seed, the
 * cabinet is rendered from every camera at moments before a door session, after it and while the
 * shopper's hand is in it (lighting changes, an occluding hand, blur and noise in the "hard"
 * half), and every slot is cropped the way the live pipeline crops it (`slotCrops`). Each crop is
 * labelled with the slot's SKU (or `empty`) and its unit count from the scenario's ground truth.
 * Seeds decide everything, so a dataset is reproducible and evaluation seeds can be kept apart
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
  /** Frame size the crops are cut from. */
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
  /** Moments rendered per scenario (all cameras each): before and after each session, the rest while it is open. Default 6. */
  readonly moments?: number;
  /** Whether a seed's scenario is hard. Default: odd seeds. */
  readonly hard?: (seed: number) => boolean;
  /** Told after each scenario. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Moments worth learning from: before and after each session, and while a hand is inside. */
export function datasetMoments(scenario: Scenario, count: number, seed: number): number[] {
  const rand = prng(seed ^ 0x5bd1e995);
  const out: number[] = [];
  for (const s of scenario.sessions) {
    out.push(s.openAt - 100, s.closeAt + 400);
  }
  while (out.length < count) {
    const s = scenario.sessions[Math.floor(rand() * scenario.sessions.length)]!;
    out.push(Math.round(s.openAt + rand() * (s.closeAt - s.openAt)));
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
  const moments = options.moments ?? 6;
  const per = 3 * input.size * input.size;
  const chunks: Float32Array[] = [];
  const sku: number[] = [];
  const count: number[] = [];
  const hard: number[] = [];
  const { width, height } = input.frame;
  const frame = new Uint8Array(width * height * 4);
  seeds.forEach((seed, done) => {
    const h = isHard(seed);
    const scenario = randomScenario(seed, { hard: h, products, sessions: 2 });
    const planogram = simulatedPlanogram(scenario);
    for (const t of datasetMoments(scenario, moments, seed)) {
      const stock = stockAt(scenario, t);
      for (const camera of scenario.cameras) {
        renderView(scenario, camera.cameraId, t, { width, height, into: frame });
        const slots = planogram.slots.filter((s) => s.regions[camera.cameraId]);
        const crops = slotCrops(
          { data: frame, width, height },
          slots.map((s) => s.regions[camera.cameraId]!),
          { kernels: options.kernels, size: input.size, mean: input.mean, std: input.std },
        );
        chunks.push(crops);
        for (const s of slots) {
          const units = s.sku ? stock[s.shelf]![s.slot]! : 0;
          sku.push(units > 0 ? labels.indexOf(s.sku!) : 0);
          count.push(Math.min(units, MAX_COUNT));
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
    hard: Uint8Array.from(hard),
    input,
    labels,
  };
}
