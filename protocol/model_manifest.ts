/**
 * The model manifest (`model.json`): what a device needs to load a recognition model and to
 * refuse a wrong one. It sits beside the ONNX file in a model component's artifacts and names the
 * file, its SHA-256, the input the network expects (NCHW crops, size, normalisation), its
 * outputs (`sku`, `count`, and `hand` when the model sees hands), the SKU labels in output order, the catalogue they come from, and how the model was
 * trained and how well it did on held-out seeds.
 *
 * @example
 * ```ts
 * import { modelManifest } from "./model_manifest.ts";
 *
 * const r = modelManifest.parse('{"name":"slot_model"}');
 * if (!r.ok) console.log(r.error.field); // the first field that is wrong
 * ```
 *
 * @module
 */
import { z } from "zod";
import * as f from "./_fields.ts";
import { defineFamily } from "./message_family.ts";
import { semanticVersion } from "./component.ts";

const unit = z.number().min(0).max(1);
const triple = z.tuple([unit, unit, unit]);
const positive = z.number().min(1e-6).max(1);

/** Schema of a model manifest. */
export const ModelManifestSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be 1-64 of a-z, 0-9, '_' and '-'"),
  version: semanticVersion,
  format: z.literal("onnx"),
  /** The ONNX file, beside the manifest. */
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.onnx$/, "must be an .onnx file name"),
  sha256: f.sha256,
  bytes: f.bytes,
  input: z.strictObject({
    name: z.string().min(1).max(64),
    layout: z.literal("NCHW"),
    size: z.int().min(8).max(1024),
    mean: triple,
    std: z.tuple([positive, positive, positive]),
  }),
  outputs: z.strictObject({
    sku: z.string().min(1).max(64),
    count: z.string().min(1).max(64),
    /**
     * Optional hand head: `labels.length + 1` classes, 0 no hand over the slot, `1 + i` a hand
     * holding label `i` (1: a hand holding nothing). Without it no take/return events.
     */
    hand: z.string().min(1).max(64).optional(),
  }),
  /** SKU labels in the `sku` output's order; the first is `empty`. */
  labels: z.array(z.string().min(1).max(32)).min(2).max(1001),
  /** The `count` output has `maxCount + 1` classes, 0..maxCount units. */
  maxCount: z.int().min(1).max(64),
  catalogueVersion: z.string().min(1).max(64),
  training: z.strictObject({
    seed: z.int(),
    seeds: z.tuple([z.int(), z.int()]),
    epochs: z.int().min(1),
    crops: z.int().min(1),
    ms: z.number().min(0),
  }),
  metrics: z.strictObject({
    evalSeeds: z.tuple([z.int(), z.int()]),
    crops: z.int().min(1),
    skuAccuracy: unit,
    countAccuracy: unit,
    /** Expected calibration error of the count confidence (10 bins). */
    countEce: unit,
    /** Share of crops whose hand class is right (models with a hand head). */
    handAccuracy: unit.optional(),
    /** Among crops of a hand holding a product, share named right. */
    heldAccuracy: unit.optional(),
  }),
  createdAt: f.timestamp,
}).refine((m) => m.labels[0] === "empty", {
  path: ["labels", 0],
  message: 'must be "empty"',
}).refine((m) => new Set(m.labels).size === m.labels.length, {
  path: ["labels"],
  message: "must not repeat",
});

/** A model manifest. */
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

/** Encoder/parser of model manifests. */
export const modelManifest = defineFamily<ModelManifest>("model manifest", ModelManifestSchema);
