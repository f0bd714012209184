/**
 * Camera registration: how far a camera has moved since the cabinet was calibrated (knocked a
 * few pixels aside or turned a few degrees, as cameras in the field are), measured against the
 * picture it took then, so the slots' crops follow the shelves instead of cutting beside them.
 *
 * Each picture is reduced to the edges of its brightness at 40, 80 and 160 samples across (normalised, so another light or colour of light changes little), cut into a grid of
 * patches, and each patch is matched to the reference picture's (coarse to fine, the sum of
 * absolute differences, to a fraction of a pixel);
 * a shift and a turn are fitted to the patches that agree. A motion too small to matter (under
 * 1.5 pixels anywhere) is none: the regions stay exactly as calibrated. The colour of the light
 * is measured too (per channel, the median over the patches of the reference's mean over now's),
 * so another site's light can be undone before the model looks; within 6% it is left alone.
 *
 * @example
 * ```ts
 * import { CameraRegistration } from "./camera_registration.ts";
 *
 * const registration = new CameraRegistration();
 * registration.reference("cam-1", installed); // the picture of the calibration
 * const motion = registration.measure("cam-1", now);
 * const region = registration.follow("cam-1", { x0: 0.1, y0: 0.1, x1: 0.3, y1: 0.3 });
 * console.log(motion, region);
 * ```
 *
 * @module
 */
import type { RgbaImage } from "../wasm/mod.ts";
import type { Region } from "./planogram.ts";

/** A camera's motion since calibration, in the picture's pixels and degrees. */
export interface CameraMotion {
  /** Shift to the right, pixels. */
  readonly dx: number;
  /** Shift down, pixels. */
  readonly dy: number;
  /** Turn about the picture's centre, degrees (the picture's content turns by this). */
  readonly roll: number;
  /** Patches that agreed with the fit, of those with enough texture. */
  readonly agreed: number;
  readonly patches: number;
  /**
   * What each channel (R, G, B) is multiplied by to look as it did at calibration (another
   * site's light, a lamp that aged); 1 within 6%.
   */
  readonly gain: readonly [number, number, number];
}

/** A picture reduced for matching: its edge strength at three scales, its colour by patch. */
interface Edges {
  readonly width: number;
  readonly height: number;
  /** Mean R, G, B of each patch of a 4x3 grid. */
  readonly colour: ReadonlyArray<readonly [number, number, number]>;
  /** Coarse to fine: sampled every 8, 4 and 2 pixels. */
  readonly levels: ReadonlyArray<{ data: Float32Array; w: number; h: number; step: number }>;
}

const UNIT: readonly [number, number, number] = [1, 1, 1];
const NONE = (patches = 0, gain = UNIT): CameraMotion => ({
  dx: 0,
  dy: 0,
  roll: 0,
  agreed: 0,
  patches,
  gain,
});

/** Mean R, G, B of each patch of a 4x3 grid over `image`, every 8th pixel (none if too small). */
function colourOf(image: RgbaImage): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const step = 8 * Math.max(1, Math.round(image.width / 320));
  // Too small a picture for 16 samples a patch: its colour is not measured.
  if (image.width / 4 / step < 4 || image.height / 3 / step < 4) return out;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      const sum = [0, 0, 0];
      let n = 0;
      const [x0, x1] = [Math.floor((c * image.width) / 4), Math.floor(((c + 1) * image.width) / 4)];
      const [y0, y1] = [
        Math.floor((r * image.height) / 3),
        Math.floor(((r + 1) * image.height) / 3),
      ];
      for (let y = y0; y < y1; y += step) {
        for (let x = x0; x < x1; x += step) {
          const i = (y * image.width + x) * 4;
          sum[0]! += image.data[i]!;
          sum[1]! += image.data[i + 1]!;
          sum[2]! += image.data[i + 2]!;
          n++;
        }
      }
      out.push([sum[0]! / n, sum[1]! / n, sum[2]! / n]);
    }
  }
  return out;
}

/**
 * Per channel, the median over the patches of reference / now; 1 within `deadZone`. Patches too
 * dark in either picture say nothing; with fewer than 6 that speak, or a gain beyond 0.6..1.7
 * (not a light: another picture), there is none.
 */
function gainOf(
  ref: Edges,
  now: Edges,
  deadZone: number,
): readonly [number, number, number] {
  if (ref.colour.length === 0 || now.colour.length !== ref.colour.length) return UNIT;
  const gain: number[] = [];
  for (const ch of [0, 1, 2]) {
    const ratios = ref.colour.flatMap((c, i) => {
      const a = c[ch]!, b = now.colour[i]![ch]!;
      return a >= 10 && b >= 10 ? [a / b] : [];
    }).sort((a, b) => a - b);
    if (ratios.length < 6) return UNIT;
    const g = ratios[Math.floor(ratios.length / 2)]!;
    if (!(g >= 0.6 && g <= 1.7)) return UNIT;
    gain.push(g);
  }
  return gain.every((g) => Math.abs(g - 1) < deadZone) ? UNIT : gain as [number, number, number];
}

/** Luma edge strength of `image` sampled every `step` pixels, divided by its mean. */
function edgesAt(image: RgbaImage, step: number): { data: Float32Array; w: number; h: number } {
  const w = Math.floor(image.width / step), h = Math.floor(image.height / step);
  const luma = new Float32Array(w * h);
  const d = image.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // The mean of a 2x2 block at the sample (less noise than one pixel).
      let sum = 0;
      for (const [ox, oy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const i = ((y * step + oy) * image.width + x * step + ox) * 4;
        sum += d[i]! * 0.299 + d[i + 1]! * 0.587 + d[i + 2]! * 0.114;
      }
      luma[y * w + x] = sum / 4;
    }
  }
  const out = new Float32Array(w * h);
  let total = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const g = Math.abs(luma[i + 1]! - luma[i - 1]!) + Math.abs(luma[i + w]! - luma[i - w]!);
      out[i] = g;
      total += g;
    }
  }
  const mean = total / Math.max(1, (w - 2) * (h - 2));
  if (mean > 0) { for (let i = 0; i < out.length; i++) out[i]! /= mean; }
  return { data: out, w, h };
}

function edgesOf(image: RgbaImage): Edges {
  return {
    width: image.width,
    height: image.height,
    colour: colourOf(image),
    // The same samples across a picture whatever its size (a 640-wide one every 4, 8, 16 pixels).
    levels: [8, 4, 2].map((n) => {
      const step = n * Math.max(1, Math.round(image.width / 320));
      return { ...edgesAt(image, step), step };
    }),
  };
}

/** Sum of absolute differences of a patch of `a` at (x0, y0) against `b` shifted by (sx, sy). */
function sad(
  a: Float32Array,
  b: Float32Array,
  w: number,
  patch: { x0: number; y0: number; x1: number; y1: number },
  sx: number,
  sy: number,
): number {
  let sum = 0;
  for (let y = patch.y0; y < patch.y1; y++) {
    const row = y * w, moved = (y + sy) * w + sx;
    for (let x = patch.x0; x < patch.x1; x++) sum += Math.abs(a[row + x]! - b[moved + x]!);
  }
  return sum;
}

/**
 * The normalisation that makes a crop taken now look as it did at calibration, `gain` being what
 * each channel is multiplied by to look as then ({@link CameraMotion.gain}): a value v·g
 * normalised by mean and std is v normalised by mean/g and std/g. A gain of 1 everywhere gives
 * `mean` and `std` back.
 */
export function underLight(
  norm: {
    readonly mean: readonly [number, number, number];
    readonly std: readonly [number, number, number];
  },
  gain: readonly number[],
): { mean: [number, number, number]; std: [number, number, number] } {
  const g = (c: number) => gain[c] ?? 1;
  return {
    mean: [norm.mean[0] / g(0), norm.mean[1] / g(1), norm.mean[2] / g(2)],
    std: [norm.std[0] / g(0), norm.std[1] / g(1), norm.std[2] / g(2)],
  };
}

/** Options of {@link CameraRegistration}. */
export interface CameraRegistrationOptions {
  /** Farthest motion looked for, as a share of the picture's width. Default 0.08. */
  readonly reach?: number;
  /** A motion whose largest displacement is under this many pixels is none. Default 1.5. */
  readonly deadZonePx?: number;
  /** A channel's gain within this share of 1 is 1. Default 0.06. */
  readonly gainDeadZone?: number;
}

/** The cameras' references and the motion last measured of each; see the module documentation. */
export class CameraRegistration {
  readonly #references = new Map<string, Edges>();
  readonly #motions = new Map<string, CameraMotion>();
  readonly #o: CameraRegistrationOptions;

  /** Creates the registration (no camera has a reference yet). */
  constructor(options: CameraRegistrationOptions = {}) {
    this.#o = options;
  }

  /** Whether `cameraId` has a reference picture. */
  has(cameraId: string): boolean {
    return this.#references.has(cameraId);
  }

  /** Takes `image` as `cameraId`'s picture at calibration; its motion is none from then. */
  reference(cameraId: string, image: RgbaImage): void {
    this.#references.set(cameraId, edgesOf(image));
    this.#motions.delete(cameraId);
  }

  /** Drops `cameraId`'s reference: no motion until it has another. */
  forget(cameraId: string): void {
    this.#references.delete(cameraId);
    this.#motions.delete(cameraId);
  }

  /** The motion (and colour gain) last measured of `cameraId` (none before a measure). */
  motion(cameraId: string): CameraMotion {
    return this.#motions.get(cameraId) ?? NONE();
  }

  /**
   * Measures `cameraId`'s motion in `image` against its reference (none without one, or when a
   * picture of another size came) and keeps it for {@link follow}.
   */
  measure(cameraId: string, image: RgbaImage): CameraMotion {
    const ref = this.#references.get(cameraId);
    if (!ref || ref.width !== image.width || ref.height !== image.height) return NONE();
    const now = edgesOf(image);
    const motion = { ...this.#fit(ref, now), gain: gainOf(ref, now, this.#o.gainDeadZone ?? 0.06) };
    this.#motions.set(cameraId, motion);
    return motion;
  }

  /** `region` of `cameraId` moved by the camera's last measured motion (as calibrated if none). */
  follow(cameraId: string, region: Region): Region {
    const m = this.#motions.get(cameraId);
    const ref = this.#references.get(cameraId);
    if (!m || !ref || (m.dx === 0 && m.dy === 0 && m.roll === 0)) return region;
    const { width: w, height: h } = ref;
    const cx = ((region.x0 + region.x1) / 2) * w - w / 2;
    const cy = ((region.y0 + region.y1) / 2) * h - h / 2;
    const a = (m.roll * Math.PI) / 180;
    // Where the region's centre went: turned about the picture's centre, then shifted.
    const ddx = (cx * Math.cos(a) - cy * Math.sin(a) - cx + m.dx) / w;
    const ddy = (cx * Math.sin(a) + cy * Math.cos(a) - cy + m.dy) / h;
    const clampShift = (lo: number, hi: number, d: number) => Math.min(1 - hi, Math.max(-lo, d));
    const sx = clampShift(region.x0, region.x1, ddx);
    const sy = clampShift(region.y0, region.y1, ddy);
    return { x0: region.x0 + sx, y0: region.y0 + sy, x1: region.x1 + sx, y1: region.y1 + sy };
  }

  /** Each patch's shift (coarse to fine), then a shift and a turn fitted to those that agree. */
  #fit(ref: Edges, now: Edges): Omit<CameraMotion, "gain"> {
    const coarse = ref.levels[0]!;
    const reach = Math.max(2, Math.ceil((this.#o.reach ?? 0.08) * coarse.w));
    const found: Array<{ x: number; y: number; dx: number; dy: number }> = [];
    const cols = 4, rows = 3;
    let textured = 0;
    const m = reach + 1;
    const pw = Math.floor((coarse.w - 2 * m) / cols);
    const ph = Math.floor((coarse.h - 2 * m) / rows);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        // The patch in the coarse grid, inside the margin the search needs.
        const patch = {
          x0: m + c * pw,
          y0: m + r * ph,
          x1: m + (c + 1) * pw,
          y1: m + (r + 1) * ph,
        };
        let energy = 0;
        for (let y = patch.y0; y < patch.y1; y++) {
          for (let x = patch.x0; x < patch.x1; x++) energy += coarse.data[y * coarse.w + x]!;
        }
        if (energy / (pw * ph) < 0.3) continue; // too plain to say where it went
        textured++;
        const shift = this.#track(ref, now, patch, reach);
        if (!shift) continue;
        const fine = ref.levels.at(-1)!;
        const k = coarse.step / fine.step;
        found.push({
          x: ((patch.x0 + patch.x1) / 2) * k * fine.step - ref.width / 2,
          y: ((patch.y0 + patch.y1) / 2) * k * fine.step - ref.height / 2,
          dx: shift.dx * fine.step,
          dy: shift.dy * fine.step,
        });
      }
    }
    if (found.length < 3) return NONE(textured);
    // Robustly: the patches near the median shift (as far off as a turn of 3.5° moves them),
    // fitted; then those within 2.5 pixels of that fit, fitted again.
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    let model = { dx: median(found.map((p) => p.dx)), dy: median(found.map((p) => p.dy)), roll: 0 };
    let use = found;
    for (const tolerance of [(r: number) => 3 + 0.06 * r, () => 2.5, () => 2.5]) {
      const kept = found.filter((p) => residual(model, p) <= tolerance(Math.hypot(p.x, p.y)));
      if (kept.length < 3) break;
      use = kept;
      model = fitMotion(use);
    }
    if (use.length < Math.max(3, Math.ceil(found.length / 2))) return NONE(textured);
    // The largest displacement the motion makes at a corner of the picture.
    const a = (model.roll * Math.PI) / 180;
    const corner = Math.hypot(ref.width, ref.height) / 2;
    const largest = Math.hypot(model.dx, model.dy) + Math.abs(a) * corner;
    if (largest < (this.#o.deadZonePx ?? 1.5)) return NONE(textured);
    return { ...model, agreed: use.length, patches: textured };
  }

  /**
   * Where a coarse `patch` of the reference is in `now`: searched at the coarsest level within
   * `reach`, refined at each finer one, to a fraction of a sample at the finest (in its samples).
   */
  #track(
    ref: Edges,
    now: Edges,
    patch: { x0: number; y0: number; x1: number; y1: number },
    reach: number,
  ): { dx: number; dy: number } | undefined {
    let sx = 0, sy = 0, radius = reach;
    let costs: ((x: number, y: number) => number) | undefined;
    for (const [i, level] of ref.levels.entries()) {
      const k = ref.levels[0]!.step / level.step;
      const p = { x0: patch.x0 * k, y0: patch.y0 * k, x1: patch.x1 * k, y1: patch.y1 * k };
      const there = now.levels[i]!;
      const at = (x: number, y: number) =>
        p.x0 + x < 0 || p.y0 + y < 0 || p.x1 + x > level.w || p.y1 + y > level.h
          ? Infinity
          : sad(level.data, there.data, level.w, p, x, y);
      let best = { x: sx, y: sy, cost: Infinity };
      for (let y = sy - radius; y <= sy + radius; y++) {
        for (let x = sx - radius; x <= sx + radius; x++) {
          const cost = at(x, y);
          if (cost < best.cost) best = { x, y, cost };
        }
      }
      if (best.cost === Infinity) return undefined;
      costs = at;
      // The next level has twice the samples: around twice this shift.
      [sx, sy, radius] = i + 1 < ref.levels.length
        ? [best.x * 2, best.y * 2, 2]
        : [best.x, best.y, 0];
    }
    // A parabola through the finest costs around the best: a fraction of a sample.
    const c0 = costs!(sx, sy);
    const sub = (minus: number, plus: number) => {
      const d = minus - 2 * c0 + plus;
      return Number.isFinite(d) && d > 0
        ? Math.max(-0.5, Math.min(0.5, (minus - plus) / (2 * d)))
        : 0;
    };
    return {
      dx: sx + sub(costs!(sx - 1, sy), costs!(sx + 1, sy)),
      dy: sy + sub(costs!(sx, sy - 1), costs!(sx, sy + 1)),
    };
  }
}

/** Least squares of d = t + θ·(-y, x) over the patches (small turns). */
function fitMotion(
  ps: ReadonlyArray<{ x: number; y: number; dx: number; dy: number }>,
): { dx: number; dy: number; roll: number } {
  const n = ps.length;
  const mx = ps.reduce((s, p) => s + p.x, 0) / n;
  const my = ps.reduce((s, p) => s + p.y, 0) / n;
  let num = 0, den = 0;
  for (const p of ps) {
    const x = p.x - mx, y = p.y - my;
    num += -y * p.dx + x * p.dy;
    den += x * x + y * y;
  }
  const theta = den > 0 ? num / den : 0;
  const tdx = ps.reduce((s, p) => s + p.dx, 0) / n + theta * my;
  const tdy = ps.reduce((s, p) => s + p.dy, 0) / n - theta * mx;
  return { dx: tdx, dy: tdy, roll: (theta * 180) / Math.PI };
}

function residual(
  m: { dx: number; dy: number; roll: number },
  p: { x: number; y: number; dx: number; dy: number },
): number {
  const theta = (m.roll * Math.PI) / 180;
  return Math.hypot(m.dx - theta * p.y - p.dx, m.dy + theta * p.x - p.dy);
}
