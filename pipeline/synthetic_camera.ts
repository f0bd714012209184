/**
 * The synthetic camera: renders any camera's view of a {@link Scenario} at any time, resolution
 * and frame rate, deterministically, and serves it as a stream of frames. The demo, the tests,
 * the training data and the benchmarks all see the world through it.
 *
 * @example
 * ```ts
 * import { randomScenario } from "./scenario.ts";
 * import { syntheticCamera } from "./synthetic_camera.ts";
 *
 * const scenario = randomScenario(7);
 * const frames = syntheticCamera(scenario, { cameraId: "cam-1", width: 320, height: 240, fps: 15 });
 * for await (const frame of frames) {
 *   using f = frame;
 *   console.log(f.seq, f.ts);
 * }
 * ```
 *
 * @module
 */
import { createFrame, type Frame } from "./frame.ts";
import {
  type CameraPose,
  HAND_MOVE_MS,
  prng,
  type Product,
  type Scenario,
  type SiteLight,
  stockAt,
} from "./scenario.ts";

type Rgb = readonly [number, number, number];

const SKIN: Rgb = [205, 150, 120];
const WALL: Rgb = [70, 72, 78];
const BOARD: Rgb = [150, 150, 155];
const GLASS: Rgb = [40, 55, 70];
const DOOR_FRAME: Rgb = [35, 35, 38];

/** A scene position, in cabinet units (0..1 both ways). */
interface Point {
  x: number;
  y: number;
}

class Canvas {
  constructor(
    readonly data: Uint8Array,
    readonly width: number,
    readonly height: number,
    readonly pose: CameraPose,
  ) {}

  px(p: Point): Point {
    return {
      x: ((p.x - 0.5 - this.pose.x) * this.pose.zoom + 0.5) * this.width,
      y: ((p.y - 0.5 - this.pose.y) * this.pose.zoom + 0.5) * this.height,
    };
  }

  rect(from: Point, to: Point, color: Rgb, alpha = 1): void {
    const p = this.px(from);
    const q = this.px(to);
    const x0 = Math.max(0, Math.round(Math.min(p.x, q.x)));
    const x1 = Math.min(this.width, Math.round(Math.max(p.x, q.x)));
    const y0 = Math.max(0, Math.round(Math.min(p.y, q.y)));
    const y1 = Math.min(this.height, Math.round(Math.max(p.y, q.y)));
    const d = this.data;
    const [r, g, b] = color;
    for (let y = y0; y < y1; y++) {
      let i = (y * this.width + x0) * 4;
      if (alpha >= 1) {
        for (let x = x0; x < x1; x++, i += 4) {
          d[i] = r;
          d[i + 1] = g;
          d[i + 2] = b;
        }
      } else {
        for (let x = x0; x < x1; x++, i += 4) {
          d[i] = d[i]! + (r - d[i]!) * alpha;
          d[i + 1] = d[i + 1]! + (g - d[i + 1]!) * alpha;
          d[i + 2] = d[i + 2]! + (b - d[i + 2]!) * alpha;
        }
      }
    }
  }

  ellipse(c: Point, rx: number, ry: number, color: Rgb, alpha = 1): void {
    const p = this.px(c);
    const rxp = rx * this.pose.zoom * this.width;
    const ryp = ry * this.pose.zoom * this.height;
    const y0 = Math.max(0, Math.floor(p.y - ryp));
    const y1 = Math.min(this.height - 1, Math.ceil(p.y + ryp));
    const d = this.data;
    const [r, g, b] = color;
    for (let y = y0; y <= y1; y++) {
      const dy = (y + 0.5 - p.y) / ryp;
      if (dy * dy > 1) continue;
      const half = rxp * Math.sqrt(1 - dy * dy);
      const x0 = Math.max(0, Math.round(p.x - half));
      const x1 = Math.min(this.width, Math.round(p.x + half));
      let i = (y * this.width + x0) * 4;
      for (let x = x0; x < x1; x++, i += 4) {
        d[i] = d[i]! + (r - d[i]!) * alpha;
        d[i + 1] = d[i + 1]! + (g - d[i + 1]!) * alpha;
        d[i + 2] = d[i + 2]! + (b - d[i + 2]!) * alpha;
      }
    }
  }
}

/** Geometry of the cabinet's slots in scene units. */
export function slotBox(
  scenario: Scenario,
  shelf: number,
  slot: number,
): { x0: number; y0: number; x1: number; y1: number } {
  const rows = scenario.shelves.length;
  const cols = scenario.shelves[0]?.length ?? 1;
  const rowH = 0.9 / rows;
  const colW = 0.9 / cols;
  const x0 = 0.05 + slot * colW;
  const y0 = 0.05 + shelf * rowH;
  return { x0, y0, x1: x0 + colW, y1: y0 + rowH };
}

function drawProduct(
  cv: Canvas,
  product: Product,
  center: Point,
  w: number,
  h: number,
  alpha = 1,
): void {
  const { color, accent, pattern, shape } = product.look;
  const left = center.x - w / 2;
  const top = center.y - h / 2;
  if (shape === "bottle") {
    cv.rect(
      { x: center.x - w * 0.15, y: top },
      { x: center.x + w * 0.15, y: top + h * 0.25 },
      color,
      alpha,
    );
    cv.rect({ x: left, y: top + h * 0.25 }, { x: left + w, y: top + h }, color, alpha);
  } else if (shape === "can") {
    cv.rect({ x: left, y: top + h * 0.08 }, { x: left + w, y: top + h }, color, alpha);
    cv.ellipse({ x: center.x, y: top + h * 0.08 }, w / 2, h * 0.08, [190, 190, 195], alpha);
  } else if (shape === "bag") {
    cv.rect({ x: left + w * 0.08, y: top }, { x: left + w * 0.92, y: top + h * 0.1 }, color, alpha);
    cv.rect({ x: left, y: top + h * 0.1 }, { x: left + w, y: top + h }, color, alpha);
  } else {
    cv.rect({ x: left, y: top }, { x: left + w, y: top + h }, color, alpha);
  }
  const bodyTop = top + h * 0.3;
  if (pattern === "band") {
    cv.rect(
      { x: left, y: bodyTop + h * 0.15 },
      { x: left + w, y: bodyTop + h * 0.35 },
      accent,
      alpha,
    );
  } else if (pattern === "stripes") {
    for (let i = 0; i < 3; i++) {
      const y = bodyTop + i * h * 0.2;
      cv.rect({ x: left, y }, { x: left + w, y: y + h * 0.07 }, accent, alpha);
    }
  } else if (pattern === "dots") {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        cv.ellipse(
          { x: left + w * (0.3 + 0.4 * i), y: bodyTop + h * (0.12 + 0.3 * j) },
          w * 0.12,
          h * 0.06,
          accent,
          alpha,
        );
      }
    }
  }
}

function productSize(scenario: Scenario): { w: number; h: number } {
  const box = slotBox(scenario, 0, 0);
  return { w: (box.x1 - box.x0) * 0.6, h: (box.y1 - box.y0) * 0.72 };
}

function slotCenter(scenario: Scenario, shelf: number, slot: number): Point {
  const box = slotBox(scenario, shelf, slot);
  const { h } = productSize(scenario);
  return { x: (box.x0 + box.x1) / 2, y: box.y1 - 0.02 - h / 2 };
}

/** Where each hand comes in from: the usual one from the front, the second from the left. */
const ENTRIES: readonly Point[] = [{ x: 0.5, y: 1.25 }, { x: -0.15, y: 0.95 }];
const ease = (u: number) => u * u * (3 - 2 * u);

/** A hand in the cabinet: where it is, where it came in and what it holds. */
interface Hand {
  at: Point;
  entry: Point;
  holding: string | null;
}

/** The hands in the cabinet at `t` (none, one, or two at once). */
function handsAt(scenario: Scenario, t: number): Hand[] {
  const hands: Hand[] = [];
  for (const a of scenario.actions) {
    if (t < a.at - HAND_MOVE_MS || t > a.at + HAND_MOVE_MS) continue;
    const target = slotCenter(scenario, a.shelf, a.slot);
    const entry = ENTRIES[a.hand ?? 0]!;
    const inward = t <= a.at;
    const u = inward ? (t - (a.at - HAND_MOVE_MS)) / HAND_MOVE_MS : 1 - (t - a.at) / HAND_MOVE_MS;
    const k = ease(Math.min(1, Math.max(0, u)));
    const at = { x: entry.x + (target.x - entry.x) * k, y: entry.y + (target.y - entry.y) * k };
    const holding = (a.kind === "take" && !inward) || (a.kind === "return" && inward)
      ? a.sku
      : null;
    hands.push({ at, entry, holding });
  }
  return hands;
}

/** The occluding second hand of a hard scenario at `t` (centre and radii), or null. */
function occluderAt(scenario: Scenario, t: number): { at: Point; rx: number; ry: number } | null {
  if (!scenario.occluder || !doorOpenAt(scenario, t)) return null;
  const phase = (t / 900) * Math.PI;
  return {
    at: { x: 0.5 + 0.3 * Math.sin(phase), y: 0.78 + 0.05 * Math.cos(phase * 1.3) },
    rx: 0.09,
    ry: 0.11,
  };
}

/** What is over a slot at one moment: a hand (or arm) or not, and what a hand there holds. */
export interface HandOverSlot {
  /** A hand, an arm or the occluding hand covers part of the slot. */
  readonly hand: boolean;
  /** SKU of the product the hand holds when the hand itself is over the slot, else null. */
  readonly holding: string | null;
}

/**
 * The ground truth of the hand head: whether a hand, the arm behind it or the occluding hand
 * covers slot `shelf`/`slot` at `t` (by at least `margin` scene units), and which product a
 * hand whose centre is over the slot holds.
 */
export function handOver(
  scenario: Scenario,
  t: number,
  place: { readonly shelf: number; readonly slot: number; readonly margin?: number },
): HandOverSlot {
  const box = slotBox(scenario, place.shelf, place.slot);
  const margin = place.margin ?? 0.01;
  const depth = (c: Point, r: number) => {
    const dx = Math.max(box.x0 - c.x, 0, c.x - box.x1);
    const dy = Math.max(box.y0 - c.y, 0, c.y - box.y1);
    return r - Math.hypot(dx, dy);
  };
  const occ = occluderAt(scenario, t);
  let covered = occ !== null && depth(occ.at, Math.min(occ.rx, occ.ry)) >= margin;
  let holding: string | null = null;
  let inside = false;
  for (const hand of handsAt(scenario, t)) {
    for (let i = 0; i <= 10 && !covered; i++) {
      const u = i / 10;
      const c = {
        x: hand.at.x + (hand.entry.x - hand.at.x) * u,
        y: hand.at.y + 0.05 + (hand.entry.y - hand.at.y) * u,
      };
      covered = depth(c, 0.045) >= margin;
    }
    covered ||= depth(hand.at, 0.05) >= margin;
    if (
      hand.at.x >= box.x0 && hand.at.x <= box.x1 && hand.at.y >= box.y0 && hand.at.y <= box.y1
    ) {
      inside = true;
      holding ??= hand.holding;
    }
  }
  return { hand: covered || inside, holding };
}

function drawHand(
  cv: Canvas,
  scenario: Scenario,
  hand: Hand,
  alpha: number,
): void {
  // Arm: a chain of discs from the entry to the hand.
  const { entry } = hand;
  for (let i = 0; i <= 10; i++) {
    const u = i / 10;
    cv.ellipse(
      { x: hand.at.x + (entry.x - hand.at.x) * u, y: hand.at.y + 0.05 + (entry.y - hand.at.y) * u },
      0.045,
      0.045,
      SKIN,
      alpha,
    );
  }
  if (hand.holding) {
    const product = scenario.products.find((p) => p.sku === hand.holding);
    const { w, h } = productSize(scenario);
    if (product) drawProduct(cv, product, hand.at, w, h, alpha);
  }
  cv.ellipse({ x: hand.at.x - 0.035, y: hand.at.y + 0.02 }, 0.03, 0.05, SKIN, alpha); // thumb
  cv.ellipse({ x: hand.at.x + 0.04, y: hand.at.y + 0.03 }, 0.035, 0.055, SKIN, alpha); // fingers
}

/**
 * Brightness at `t`: lighting gain times the door's light (closed 0.55, open 1, over 250 ms; a
 * door open only partly lets in that share of the difference).
 */
function lightAt(scenario: Scenario, t: number): number {
  let gain = 1;
  for (const l of scenario.lighting) if (l.at <= t) gain = l.gain;
  let door = 0;
  for (const s of scenario.sessions) {
    if (t >= s.openAt && t <= s.closeAt + 250) {
      const rise = Math.min(1, (t - s.openAt) / 250);
      const fall = t > s.closeAt ? 1 - (t - s.closeAt) / 250 : 1;
      door = Math.max(door, Math.min(rise, fall));
    }
  }
  return gain * (0.55 + 0.45 * door * (scenario.door?.opening ?? 1));
}

/** Whether the door is open at `t`. */
export function doorOpenAt(scenario: Scenario, t: number): boolean {
  return scenario.sessions.some((s) => t >= s.openAt && t < s.closeAt);
}

/**
 * Turns the picture `degrees` about its centre (a camera knocked askew), nearest pixel; what
 * comes into view from beyond the edges repeats the edge.
 */
function rollPicture(data: Uint8Array, width: number, height: number, degrees: number): void {
  const src = data.slice();
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a), sin = Math.sin(a);
  const cx = width / 2, cy = height / 2;
  for (let y = 0; y < height; y++) {
    const dy = y + 0.5 - cy;
    for (let x = 0; x < width; x++) {
      const dx = x + 0.5 - cx;
      const sx = Math.min(width - 1, Math.max(0, Math.floor(cx + dx * cos + dy * sin)));
      const sy = Math.min(height - 1, Math.max(0, Math.floor(cy - dx * sin + dy * cos)));
      const i = (y * width + x) * 4, j = (sy * width + sx) * 4;
      data[i] = src[j]!;
      data[i + 1] = src[j + 1]!;
      data[i + 2] = src[j + 2]!;
    }
  }
}

/** Light and sensor noise under a site's light: its colour, and a lamp to one side. */
function siteLight(
  data: Uint8Array,
  width: number,
  site: SiteLight,
  frame: { light: number; sigma: number; seed: number },
): void {
  const column = new Float32Array(width);
  for (let x = 0; x < width; x++) column[x] = 1 + 2 * site.slope * ((x + 0.5) / width - 0.5);
  const gains = site.tint.map((g) => g * frame.light);
  let s = frame.seed;
  for (let i = 0, x = 0; i < data.length; i += 4, x = x + 1 === width ? 0 : x + 1) {
    for (let c = 0; c < 3; c++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const tri = (s & 255) + ((s >>> 8) & 255) - 255;
      const v = data[i + c]! * gains[c]! * column[x]! + tri * frame.sigma;
      data[i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}

/** Options of {@link renderView}. */
export interface RenderOptions {
  /** Frame width. */
  readonly width: number;
  /** Frame height. */
  readonly height: number;
  /** Output buffer to reuse (`width * height * 4` bytes). */
  readonly into?: Uint8Array;
  /** Exposure time over which motion blurs, ms. Default 30. */
  readonly exposureMs?: number;
}

/**
 * Renders camera `cameraId`'s view at time `t` (ms from the scenario start) as RGBA. The same
 * arguments always give the same bytes.
 */
export function renderView(
  scenario: Scenario,
  cameraId: string,
  t: number,
  options: RenderOptions,
): Uint8Array {
  const camIndex = scenario.cameras.findIndex((c) => c.cameraId === cameraId);
  if (camIndex < 0) {
    throw new RangeError(`Unknown camera "${cameraId}" in scenario ${scenario.seed}`);
  }
  const pose = scenario.cameras[camIndex]!;
  const { width, height } = options;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 8 || height < 8 ||
    width > 8192 || height > 8192
  ) {
    throw new RangeError(`Cannot render ${width}x${height}: expected 8-8192 x 8-8192`);
  }
  const data = options.into ?? new Uint8Array(width * height * 4);
  if (data.length !== width * height * 4) {
    throw new RangeError(
      `Render buffer holds ${data.length} bytes, expected ${width * height * 4}`,
    );
  }
  // Back wall with a vertical gradient.
  for (let y = 0; y < height; y++) {
    const shade = 0.8 + 0.4 * (y / height);
    const r = WALL[0] * shade, g = WALL[1] * shade, b = WALL[2] * shade;
    for (let i = y * width * 4, end = i + width * 4; i < end; i += 4) {
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      data[i + 3] = 255;
    }
  }
  const cv = new Canvas(data, width, height, pose);
  const stock = stockAt(scenario, t);
  const { w, h } = productSize(scenario);
  scenario.shelves.forEach((row, s) => {
    row.forEach((slot, k) => {
      const box = slotBox(scenario, s, k);
      const units = stock[s]![k]!;
      const product = scenario.products.find((p) => p.sku === slot.sku);
      if (product && units > 0) {
        const c = slotCenter(scenario, s, k);
        // Units behind the front one peek out to the right, darker: the count is visible.
        for (let u = Math.min(units, 4) - 1; u >= 1; u--) {
          drawProduct(cv, product, { x: c.x + u * 0.012, y: c.y - u * 0.008 }, w, h, 0.55);
        }
        drawProduct(cv, product, c, w, h);
      }
      cv.rect({ x: box.x0, y: box.y1 - 0.02 }, { x: box.x1, y: box.y1 }, BOARD);
    });
  });
  const occluder = occluderAt(scenario, t);
  if (occluder) cv.ellipse(occluder.at, occluder.rx, occluder.ry, SKIN);
  const exposure = options.exposureMs ?? 30;
  const samples = scenario.motionBlur ? 4 : 1;
  for (let i = 0; i < samples; i++) {
    for (const hand of handsAt(scenario, t - exposure + (exposure * (i + 1)) / samples)) {
      drawHand(cv, scenario, hand, i === 0 ? 1 : 1 / (i + 1));
    }
  }
  // A door open partly: its glass and frame in front of the shelves it covers.
  if (scenario.door && doorOpenAt(scenario, t)) {
    const { edge } = scenario.door;
    cv.rect({ x: edge, y: -0.3 }, { x: 1.3, y: 1.3 }, GLASS, 0.35);
    cv.rect({ x: edge, y: -0.3 }, { x: edge + 0.03, y: 1.3 }, DOOR_FRAME);
  }
  if (pose.roll) rollPicture(data, width, height, pose.roll);
  // Light and sensor noise, seeded per camera and instant.
  const light = lightAt(scenario, t);
  const rand = prng((scenario.seed * 2654435761 + camIndex * 97 + Math.round(t) * 7919) >>> 0);
  let s = (rand() * 4294967296) >>> 0 || 1;
  const sigma = scenario.noise / 104;
  if (scenario.site) {
    siteLight(data, width, scenario.site, { light, sigma, seed: s });
    return data;
  }
  for (let i = 0; i < data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const tri = (s & 255) + ((s >>> 8) & 255) - 255; // triangular, sd about 104
      const v = data[i + c]! * light + tri * sigma;
      data[i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return data;
}

/** Options of {@link syntheticCamera}. */
export interface SyntheticCameraOptions {
  /** Which camera of the scenario. */
  readonly cameraId: string;
  /** Frame width. */
  readonly width: number;
  /** Frame height. */
  readonly height: number;
  /** Frames per second. */
  readonly fps: number;
  /** Reference-clock time (Unix ms) of the scenario's start. Default 0. */
  readonly startTs?: number;
  /** This camera's device clock minus the reference clock, ms: frames are stamped on the device's clock. Default 0. */
  readonly clockOffsetMs?: number;
  /** Capture-time jitter, up to +- this many ms, deterministic. Default 0. */
  readonly jitterMs?: number;
  /** Sequence numbers of frames the camera never delivers. */
  readonly dropFrames?: ReadonlySet<number>;
  /** The camera stops delivering at this scenario time, ms (it "disappears"). */
  readonly stopAtMs?: number;
  /** Deliver frames at their capture times on the wall clock instead of as fast as they are read. */
  readonly realtime?: boolean;
  /** Stops the camera. */
  readonly signal?: AbortSignal;
}

/** A camera that renders the scenario: a stream of RGBA frames stamped on its device's clock. */
export function syntheticCamera(
  scenario: Scenario,
  options: SyntheticCameraOptions,
): ReadableStream<Frame> {
  const pose = scenario.cameras.find((c) => c.cameraId === options.cameraId);
  if (!pose) {
    throw new RangeError(
      `Cannot open camera "${options.cameraId}": not in scenario ${scenario.seed}`,
    );
  }
  if (!(options.fps > 0 && options.fps <= 240)) {
    throw new RangeError(`Invalid fps ${options.fps} for camera "${options.cameraId}"`);
  }
  const period = 1000 / options.fps;
  const jitter = prng(scenario.seed ^ 0x5bd1e995 ^ options.cameraId.length * 131);
  const startTs = options.startTs ?? 0;
  const end = Math.min(scenario.durationMs, options.stopAtMs ?? Infinity);
  const wallStart = performance.now();
  let seq = 0;
  return new ReadableStream<Frame>({
    async pull(controller) {
      for (;;) {
        if (options.signal?.aborted) return controller.close();
        const t = seq * period + (options.jitterMs ? (jitter() * 2 - 1) * options.jitterMs : 0);
        if (seq * period >= end) return controller.close();
        const n = seq++;
        if (options.dropFrames?.has(n)) continue;
        if (options.realtime) {
          const wait = wallStart + t - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const data = renderView(scenario, options.cameraId, t, options);
        controller.enqueue(createFrame({
          cameraId: options.cameraId,
          deviceId: pose.deviceId,
          seq: n,
          ts: startTs + t + (options.clockOffsetMs ?? 0),
          width: options.width,
          height: options.height,
          format: "rgba",
          data,
        }));
        return;
      }
    },
  }, new CountQueuingStrategy({ highWaterMark: 0 }));
}
