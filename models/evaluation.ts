/**
 * How well a slot model does on held-out crops: accuracy of its outputs, confusion matrices
 * (rows the truth, columns the prediction), per-class recall and precision, and how well the
 * count confidence is calibrated (expected calibration error over 10 bins, with the reliability
 * table). With a hand head, also how often it sees a hand over the slot when there is one and
 * names what the hand holds. `confusionSvg` draws a confusion matrix for the training report.
 *
 * @example
 * ```ts
 * import { confusionSvg, evaluateSlots } from "./evaluation.ts";
 *
 * const report = evaluateSlots(
 *   { sku: new Float32Array([0.1, 0.9]), count: new Float32Array([0.8, 0.2]) },
 *   { sku: Int32Array.of(1), count: Int32Array.of(0), labels: ["empty", "A"], maxCount: 1 },
 * );
 * console.log(report.skuAccuracy, confusionSvg(report.skuConfusion, ["empty", "A"]).length);
 * ```
 *
 * @module
 */

/** Per-class figures. */
export interface ClassFigures {
  readonly label: string;
  readonly support: number;
  readonly recall: number;
  readonly precision: number;
}

/** One bin of the reliability table. */
export interface ReliabilityBin {
  /** Confidence range [from, to). */
  readonly from: number;
  readonly to: number;
  readonly n: number;
  readonly meanConfidence: number;
  readonly accuracy: number;
}

/** The evaluation of a slot model. */
export interface SlotEvaluation {
  readonly crops: number;
  readonly skuAccuracy: number;
  readonly countAccuracy: number;
  readonly skuConfusion: readonly (readonly number[])[];
  readonly countConfusion: readonly (readonly number[])[];
  readonly skuClasses: readonly ClassFigures[];
  readonly countClasses: readonly ClassFigures[];
  /** Expected calibration error of the count confidence. */
  readonly countEce: number;
  readonly countReliability: readonly ReliabilityBin[];
  /** The hand head, when the model has one and the crops are labelled. */
  readonly hand?: HandEvaluation;
}

/** How well the hand head does. */
export interface HandEvaluation {
  /** Share of crops whose hand class (none, empty hand, hand holding a SKU) is right. */
  readonly accuracy: number;
  /** Share of crops where "a hand is over the slot or not" is right. */
  readonly presenceAccuracy: number;
  /** Among crops of a hand holding a product: share whose product is named right. */
  readonly heldAccuracy: number;
  /** Crops of a hand holding a product. */
  readonly held: number;
  /** Rows the truth, columns the prediction; classes none, then a hand holding each label. */
  readonly confusion: readonly (readonly number[])[];
}

function argmax(p: Float32Array, at: number, n: number): [number, number] {
  let best = 0;
  for (let j = 1; j < n; j++) if (p[at + j]! > p[at + best]!) best = j;
  return [best, p[at + best]!];
}

function figures(confusion: number[][], labels: readonly string[]): ClassFigures[] {
  return labels.map((label, k) => {
    const support = confusion[k]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k]!, 0);
    const hit = confusion[k]![k]!;
    return {
      label,
      support,
      recall: support ? hit / support : NaN,
      precision: predicted ? hit / predicted : NaN,
    };
  });
}

/** Evaluates predicted probabilities against the labels. */
export function evaluateSlots(
  predicted: {
    readonly sku: Float32Array;
    readonly count: Float32Array;
    readonly hand?: Float32Array;
  },
  truth: {
    readonly sku: Int32Array;
    readonly count: Int32Array;
    readonly hand?: Int32Array;
    readonly labels: readonly string[];
    readonly maxCount: number;
  },
): SlotEvaluation {
  const n = truth.sku.length;
  const k = truth.labels.length;
  const c = truth.maxCount + 1;
  if (
    predicted.sku.length !== n * k || predicted.count.length !== n * c || truth.count.length !== n
  ) {
    throw new RangeError(
      `Cannot evaluate: ${n} labels against ${predicted.sku.length / k} SKU and ` +
        `${predicted.count.length / c} count predictions`,
    );
  }
  const skuConfusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const countConfusion = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  const bins = Array.from({ length: 10 }, () => ({ n: 0, conf: 0, hit: 0 }));
  let skuHits = 0;
  let countHits = 0;
  for (let i = 0; i < n; i++) {
    const [s] = argmax(predicted.sku, i * k, k);
    const [m, confidence] = argmax(predicted.count, i * c, c);
    skuConfusion[truth.sku[i]!]![s]!++;
    countConfusion[truth.count[i]!]![m]!++;
    if (s === truth.sku[i]) skuHits++;
    const hit = m === truth.count[i];
    if (hit) countHits++;
    const bin = bins[Math.min(9, Math.floor(confidence * 10))]!;
    bin.n++;
    bin.conf += confidence;
    bin.hit += hit ? 1 : 0;
  }
  const countReliability = bins.map((b, i) => ({
    from: i / 10,
    to: (i + 1) / 10,
    n: b.n,
    meanConfidence: b.n ? b.conf / b.n : NaN,
    accuracy: b.n ? b.hit / b.n : NaN,
  }));
  const countEce = bins.reduce(
    (e, b) => e + (b.n ? (b.n / n) * Math.abs(b.hit / b.n - b.conf / b.n) : 0),
    0,
  );
  const hand = predicted.hand && truth.hand
    ? evaluateHand(predicted.hand, truth.hand, k + 1)
    : undefined;
  return {
    ...(hand ? { hand } : {}),
    crops: n,
    skuAccuracy: n ? skuHits / n : NaN,
    countAccuracy: n ? countHits / n : NaN,
    skuConfusion,
    countConfusion,
    skuClasses: figures(skuConfusion, truth.labels),
    countClasses: figures(countConfusion, Array.from({ length: c }, (_, i) => `${i} units`)),
    countEce,
    countReliability,
  };
}

function evaluateHand(predicted: Float32Array, truth: Int32Array, classes: number): HandEvaluation {
  const n = truth.length;
  if (predicted.length !== n * classes) {
    throw new RangeError(
      `Cannot evaluate: ${n} hand labels against ${predicted.length / classes} hand predictions`,
    );
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let hits = 0, presence = 0, held = 0, heldHits = 0;
  for (let i = 0; i < n; i++) {
    const [m] = argmax(predicted, i * classes, classes);
    const want = truth[i]!;
    confusion[want]![m]!++;
    if (m === want) hits++;
    if ((m > 0) === (want > 0)) presence++;
    if (want > 1) {
      held++;
      if (m === want) heldHits++;
    }
  }
  return {
    accuracy: n ? hits / n : NaN,
    presenceAccuracy: n ? presence / n : NaN,
    heldAccuracy: held ? heldHits / held : NaN,
    held,
    confusion,
  };
}

const escape = (s: string) =>
  s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

/** A confusion matrix as an SVG picture: cells shaded by the share of their row. */
export function confusionSvg(
  confusion: readonly (readonly number[])[],
  labels: readonly string[],
  options: { title?: string } = {},
): string {
  const cell = 34;
  const left = 110;
  const top = 120;
  const n = labels.length;
  const w = left + n * cell + 20;
  const h = top + n * cell + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${left}" y="18" font-size="14">${escape(options.title ?? "Confusion")}</text>`,
    `<text x="${left}" y="${h - 12}">predicted (columns), truth (rows)</text>`,
  ];
  labels.forEach((label, i) => {
    parts.push(
      `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${
        escape(label)
      }</text>`,
      `<text transform="translate(${left + i * cell + cell / 2 + 4},${top - 6}) rotate(-60)">${
        escape(label)
      }</text>`,
    );
  });
  confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((v, j) => {
      const share = v / total;
      const shade = Math.round(255 - share * 200);
      const fill = i === j ? `rgb(${shade},${255},${shade})` : `rgb(255,${shade},${shade})`;
      parts.push(
        `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell - 1}" height="${
          cell - 1
        }" fill="${v ? fill : "#f4f4f4"}"/>`,
      );
      if (v) {
        parts.push(
          `<text x="${left + j * cell + cell / 2}" y="${
            top + i * cell + cell / 2 + 4
          }" text-anchor="middle">${v}</text>`,
        );
      }
    });
  });
  parts.push("</svg>");
  return parts.join("\n");
}
