/**
 * Product recognition's offline side (web standards only, no `Deno.*`): the product catalogue,
 * the synthetic dataset rendered by the pipeline's renderer, the slot model and its training with
 * tfjs on the WASM backend, and the ONNX export devices run.
 *
 * @example
 * ```ts
 * import { referenceKernels } from "../wasm/mod.ts";
 * import { exportOnnx, renderDataset, trainSlotModel } from "./mod.ts";
 *
 * const data = renderDataset([1, 2, 3], { kernels: referenceKernels });
 * const { model } = await trainSlotModel(data, { seed: 1, epochs: 1 });
 * const onnx = exportOnnx(model, { name: "slot_model" });
 * console.log(onnx.length);
 * ```
 *
 * @module
 */
export {
  type Catalogue,
  CatalogueError,
  type CatalogueItem,
  CatalogueItemSchema,
  catalogueProducts,
  CatalogueSchema,
  DEFAULT_CATALOGUE,
  parseCatalogue,
  skuLabels,
} from "./catalogue.ts";
export {
  type Dataset,
  datasetMoments,
  DEFAULT_INPUT,
  type InputSpec,
  MAX_COUNT,
  renderDataset,
  type RenderDatasetOptions,
} from "./dataset.ts";
export {
  type FieldCropOrigin,
  type FieldCrops,
  fieldCrops,
  type FieldCropSkip,
  type FieldCropsOptions,
  type FieldSampleInput,
  slotLabels,
} from "./field_crops.ts";
export { importOnnx, type ImportOptions, OnnxImportError } from "./onnx_import.ts";
export { exportOnnx, type ExportOptions, OnnxExportError } from "./onnx_export.ts";
export {
  buildSlotModel,
  conv2dFilterGradient,
  registerConvGradient,
  type SlotModelOptions,
} from "./slot_model.ts";
export { startTfjsWasm, TfjsStartError } from "./tfjs_backend.ts";
export {
  nhwc,
  predictSlots,
  type Trained,
  type TrainOptions,
  type TrainProgress,
  trainSlotModel,
} from "./trainer.ts";
export {
  type ClassFigures,
  confusionSvg,
  evaluateSlots,
  type ReliabilityBin,
  type SlotEvaluation,
} from "./evaluation.ts";
export { type ModelArtifactInfo, modelManifestFor } from "./model_artifact.ts";
export {
  cartText,
  evaluateSessions,
  type EvaluateSessionsOptions,
  EVENT_TOLERANCE_MS,
  eventsText,
  type SessionEvaluation,
  type SessionOutcome,
} from "./session_eval.ts";
