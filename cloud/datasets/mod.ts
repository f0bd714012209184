/**
 * Datasets from the field: each door session kept as a sample (the device's decision and
 * per-slot evidence, the cabinet's clips), labelled by its payment's outcome (a reviewer's cart,
 * or a confident charge nobody disputed), its clips deleted by retention unless a review or a
 * dispute holds them.
 *
 * @example
 * ```ts
 * import { FieldDataset, FieldSamples } from "./mod.ts";
 *
 * console.log(typeof FieldSamples, typeof FieldDataset);
 * ```
 *
 * @module
 */
export {
  clipHold,
  ClipRetention,
  type ClipRetentionOptions,
  type SweepResult,
} from "./clip_retention.ts";
export {
  type DatasetSkipReason,
  FieldDataset,
  type FieldDatasetParts,
  type FieldListing,
  type FieldQuery,
  type LabelledSample,
  type ShadowQuery,
} from "./field_dataset.ts";
export {
  type FieldLabel,
  fieldLabel,
  type FieldLabelOptions,
  type LabelSource,
  reviewedByPerson,
  SKIP_REASONS,
  type SkipReason,
} from "./field_label.ts";
export {
  type ClipRetentionPolicy,
  type FieldClip,
  type FieldDecision,
  type FieldSample,
  FieldSamples,
  type FieldSamplesOptions,
  type IgnoredReason,
} from "./field_samples.ts";
export {
  compareShadow,
  type CompareShadowOptions,
  type ModelScore,
  sameCart,
  type ShadowComparison,
  type ShadowSession,
  type ShadowVerdict,
} from "./shadow_comparison.ts";
