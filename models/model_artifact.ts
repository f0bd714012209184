/**
 * The versioned model artifact: the ONNX file and its manifest (`model.json`, the protocol's
 * model manifest) with the file's SHA-256, the input spec, the labels, the catalogue version and
 * the training and evaluation figures. A model component version ships both files.
 *
 * @example
 * ```ts
 * import { modelManifestFor } from "./model_artifact.ts";
 *
 * const manifest = await modelManifestFor(new Uint8Array([1, 2, 3]), {
 *   name: "slot_model", version: "1.0.0", labels: ["empty", "COLA-330"], maxCount: 4,
 *   input: { size: 32, mean: [0.45, 0.45, 0.45], std: [0.25, 0.25, 0.25] },
 *   catalogueVersion: "2026.11.1",
 *   training: { seed: 1, seeds: [1, 60], epochs: 5, crops: 100, ms: 1000 },
 *   metrics: { evalSeeds: [1000001, 1000020], crops: 50, skuAccuracy: 1, countAccuracy: 1, countEce: 0 },
 * });
 * console.log(manifest.sha256);
 * ```
 *
 * @module
 */
import { type ModelManifest, modelManifest, sha256Hex } from "../protocol/mod.ts";

/** What {@link modelManifestFor} needs besides the ONNX bytes. */
export interface ModelArtifactInfo {
  readonly name: string;
  readonly version: string;
  readonly labels: readonly string[];
  readonly maxCount: number;
  /** The ONNX graph has a `hand` output. Default false. */
  readonly hand?: boolean;
  readonly input: {
    readonly size: number;
    readonly mean: readonly [number, number, number];
    readonly std: readonly [number, number, number];
  };
  readonly catalogueVersion: string;
  readonly training: ModelManifest["training"];
  readonly metrics: ModelManifest["metrics"];
  /** Default now. */
  readonly createdAt?: number;
}

/** The manifest of `onnx`, validated (a TypeError names a bad field). */
export async function modelManifestFor(
  onnx: Uint8Array<ArrayBuffer>,
  info: ModelArtifactInfo,
): Promise<ModelManifest> {
  const manifest: ModelManifest = {
    name: info.name,
    version: info.version,
    format: "onnx",
    file: `${info.name}.onnx`,
    sha256: await sha256Hex(onnx),
    bytes: onnx.length,
    input: {
      name: "input",
      layout: "NCHW",
      size: info.input.size,
      mean: [...info.input.mean],
      std: [...info.input.std],
    },
    outputs: { sku: "sku", count: "count", ...(info.hand ? { hand: "hand" } : {}) },
    labels: [...info.labels],
    maxCount: info.maxCount,
    catalogueVersion: info.catalogueVersion,
    training: info.training,
    metrics: info.metrics,
    createdAt: info.createdAt ?? Date.now(),
  };
  modelManifest.encode(manifest); // throws TypeError naming a bad field
  return manifest;
}
