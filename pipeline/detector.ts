/**
 * A generic detector path so a user can drop in their own ONNX detector: the picture is
 * letterboxed to the network's square input, the output decoded from the YOLO layouts
 * (`yolov5`: `[1, boxes, 5 + classes]` with objectness; `yolov8`: `[1, 4 + classes, boxes]`),
 * boxes above the score threshold kept, overlapping ones of the same class suppressed
 * (non-maximum suppression), and the boxes mapped back to the picture's pixels.
 *
 * @example
 * ```ts
 * import { decodeYolo } from "./detector.ts";
 *
 * // One box, centre (50, 50), 20x20, objectness 0.9, class 0 at 0.8.
 * const out = Float32Array.of(50, 50, 20, 20, 0.9, 0.8);
 * console.log(decodeYolo(out, [1, 1, 6], { layout: "yolov5" }));
 * ```
 *
 * @module
 */
import { letterboxGeometry, type PixelKernels, type RgbaImage } from "../wasm/mod.ts";
import type { OnnxRuntime, OrtSession } from "../wasm/mod.ts";

/** A detected object, in pixels of the picture it was found in. */
export interface Detection {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly score: number;
  readonly classId: number;
  readonly label: string;
}

/** Options of {@link decodeYolo}. */
export interface DecodeOptions {
  readonly layout: "yolov5" | "yolov8";
  /** Minimum score kept. Default 0.25. */
  readonly scoreThreshold?: number;
  /** Overlap (IoU) above which a weaker box of the same class is dropped. Default 0.45. */
  readonly iouThreshold?: number;
  /** Most boxes returned. Default 100. */
  readonly maxDetections?: number;
  /** Class names. Default `class N`. */
  readonly labels?: readonly string[];
}

/** Intersection over union of two boxes. */
export function iou(a: Omit<Detection, "score" | "classId" | "label">, b: typeof a): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const area = (d: typeof a) => (d.x1 - d.x0) * (d.y1 - d.y0);
  return inter / (area(a) + area(b) - inter);
}

/** Greedy non-maximum suppression per class: strongest first, overlapping weaker ones dropped. */
export function nonMaxSuppression(
  detections: readonly Detection[],
  options: { iouThreshold?: number; maxDetections?: number } = {},
): Detection[] {
  const threshold = options.iouThreshold ?? 0.45;
  const kept: Detection[] = [];
  for (const d of [...detections].sort((a, b) => b.score - a.score)) {
    if (kept.length >= (options.maxDetections ?? 100)) break;
    if (kept.every((k) => k.classId !== d.classId || iou(k, d) <= threshold)) kept.push(d);
  }
  return kept;
}

/** Decodes a YOLO output tensor into detections in the network's input pixels. */
export function decodeYolo(
  output: Float32Array,
  dims: readonly number[],
  options: DecodeOptions,
): Detection[] {
  if (dims.length !== 3 || dims[0] !== 1) {
    throw new RangeError(
      `Cannot decode a YOLO output of shape [${dims.join(", ")}]: expected [1, a, b]`,
    );
  }
  const v8 = options.layout === "yolov8";
  const [rows, cols] = v8 ? [dims[2]!, dims[1]!] : [dims[1]!, dims[2]!];
  const classes = cols - (v8 ? 4 : 5);
  if (classes < 1 || output.length !== rows * cols) {
    throw new RangeError(
      `Cannot decode ${output.length} values as ${options.layout} with shape [${dims.join(", ")}]`,
    );
  }
  const at = (r: number, c: number) => (v8 ? output[c * rows + r]! : output[r * cols + c]!);
  const min = options.scoreThreshold ?? 0.25;
  const found: Detection[] = [];
  for (let r = 0; r < rows; r++) {
    const objectness = v8 ? 1 : at(r, 4);
    let best = 0;
    let score = -Infinity;
    for (let k = 0; k < classes; k++) {
      const s = at(r, (v8 ? 4 : 5) + k);
      if (s > score) (score = s, best = k);
    }
    score *= objectness;
    if (!(score >= min)) continue;
    const cx = at(r, 0), cy = at(r, 1), w = at(r, 2), h = at(r, 3);
    found.push({
      x0: cx - w / 2,
      y0: cy - h / 2,
      x1: cx + w / 2,
      y1: cy + h / 2,
      score,
      classId: best,
      label: options.labels?.[best] ?? `class ${best}`,
    });
  }
  return nonMaxSuppression(found, {
    ...(options.iouThreshold !== undefined ? { iouThreshold: options.iouThreshold } : {}),
    ...(options.maxDetections !== undefined ? { maxDetections: options.maxDetections } : {}),
  });
}

/** Options of {@link OnnxDetector.load}. */
export interface OnnxDetectorOptions extends DecodeOptions {
  /** Side of the square input. */
  readonly inputSize: number;
  readonly kernels: PixelKernels;
  /** Per-channel mean and deviation (0..1). Default 0 and 1 (pixels scaled to 0..1). */
  readonly mean?: readonly [number, number, number];
  readonly std?: readonly [number, number, number];
}

/** A user's ONNX detector (one input, one YOLO-layout output). */
export class OnnxDetector implements AsyncDisposable {
  readonly #ort: OnnxRuntime;
  readonly #session: OrtSession;
  readonly #o: OnnxDetectorOptions;

  private constructor(ort: OnnxRuntime, session: OrtSession, options: OnnxDetectorOptions) {
    this.#ort = ort;
    this.#session = session;
    this.#o = options;
  }

  /** Loads a detector; a file onnxruntime refuses throws with the reason. */
  static async load(
    ort: OnnxRuntime,
    onnx: Uint8Array,
    options: OnnxDetectorOptions,
  ): Promise<OnnxDetector> {
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(onnx);
    } catch (cause) {
      throw new Error(`Cannot load the detector: ${(cause as Error).message}`, { cause });
    }
    if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
      await session.release();
      throw new Error(
        `Cannot load the detector: expected one input and an output, got inputs ` +
          `[${session.inputNames.join(", ")}] and outputs [${session.outputNames.join(", ")}]`,
      );
    }
    return new OnnxDetector(ort, session, options);
  }

  /** Detects objects in `image`; boxes are in its pixels. */
  async detect(image: RgbaImage): Promise<Detection[]> {
    const { kernels, inputSize: s } = this.#o;
    const square = { width: s, height: s };
    const boxed = kernels.letterbox(image, square);
    const x = kernels.rgbaToNchw(boxed, {
      mean: this.#o.mean ?? [0, 0, 0],
      std: this.#o.std ?? [1, 1, 1],
    });
    const input = new this.#ort.Tensor("float32", x, [1, 3, s, s]);
    const out = await this.#session.run({ [this.#session.inputNames[0]!]: input });
    const y = out[this.#session.outputNames[0]!]!;
    const found = decodeYolo(y.data as Float32Array, y.dims, this.#o);
    const g = letterboxGeometry(image, square);
    const back = (v: number, offset: number, max: number) =>
      Math.min(max, Math.max(0, (v - offset) / g.scale));
    return found.map((d) => ({
      ...d,
      x0: back(d.x0, g.offsetX, image.width),
      y0: back(d.y0, g.offsetY, image.height),
      x1: back(d.x1, g.offsetX, image.width),
      y1: back(d.y1, g.offsetY, image.height),
    }));
  }

  /** Releases the session. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#session.release();
  }
}
