/**
 * The streaming pipeline of a vending machine, on Web Streams and web standards only (no
 * `Deno.*`): camera sources (synthetic, MP4 file, remote), validation, clock sync between the
 * devices, frame sync across the cameras, bounded live queues and per-stage metrics. Runtime,
 * hardware and NATS specifics plug in from edge/ through small interfaces ({@link Publisher},
 * {@link ClockProbe}, async iterables of messages).
 *
 * @example
 * ```ts
 * import { FrameSync, mergeStreams, randomScenario, syntheticCamera } from "./mod.ts";
 *
 * const scenario = randomScenario(42);
 * const cams = ["cam-1", "cam-2", "cam-3"].map((cameraId) =>
 *   syntheticCamera(scenario, { cameraId, width: 320, height: 240, fps: 15 })
 * );
 * const sync = new FrameSync({ cameras: cams.map((_, i) => ({ cameraId: `cam-${i + 1}`, fps: 15 })), now: () => 0 });
 * mergeStreams(cams).pipeTo(sync.writable);
 * for await (const set of sync.readable) {
 *   using s = set;
 *   console.log(s.ts, s.frames.size, s.skewMs);
 * }
 * ```
 *
 * @module
 */
export {
  type ClockEstimate,
  ClockModel,
  type ClockProbe,
  type ClockSample,
  type ClockSyncOptions,
  runClockSync,
} from "./clock_sync.ts";
export { fileSource, type FileSourceOptions } from "./file_source.ts";
export {
  createFrame,
  type Frame,
  frameBytes,
  type FrameInit,
  frameProblem,
  type PixelFormat,
} from "./frame.ts";
export { createFrameSet, type FrameSet } from "./frame_set.ts";
export {
  FrameSync,
  FrameSyncCore,
  type FrameSyncOptions,
  type FrameSyncStageOptions,
  type SyncCamera,
  type SyncOutput,
} from "./frame_sync.ts";
export { liveQueue } from "./live_queue.ts";
export { mergeStreams } from "./merge.ts";
export type { Publisher } from "./publisher.ts";
export {
  remoteFrameSink,
  type RemoteFrameSinkOptions,
  remoteSource,
  type RemoteSourceOptions,
} from "./remote_frames.ts";
export {
  type CameraPose,
  DEFAULT_PRODUCTS,
  type DoorSession,
  HAND_MOVE_MS,
  type HandAction,
  type PartDoor,
  prng,
  type Product,
  type ProductLook,
  randomScenario,
  type RandomScenarioOptions,
  type Scenario,
  type ScenarioTruth,
  scenarioTruth,
  type SiteLight,
  type Slot,
  standardCameras,
  stockAt,
  type TruthEvent,
} from "./scenario.ts";
export { collectSignals, type PipelineSignal, signalChannel, type SignalSink } from "./signal.ts";
export { MetricsRegistry, StageMetrics, type StageSnapshot } from "./stage_metrics.ts";
export {
  doorOpenAt,
  handOver,
  type HandOverSlot,
  type RenderOptions,
  renderView,
  slotBox,
  syntheticCamera,
  type SyntheticCameraOptions,
} from "./synthetic_camera.ts";
export { type CameraFormat, validateFrames } from "./validate_frames.ts";
export {
  type CameraMotion,
  CameraRegistration,
  type CameraRegistrationOptions,
  underLight,
} from "./camera_registration.ts";
export {
  applyWorld,
  checkProbability,
  HARD_WORLD,
  WORLD_CONDITION_NAMES,
  type WorldConditions,
} from "./world_conditions.ts";
export {
  checkClipFrame,
  checkClipSpec,
  type ClipEncoder,
  ClipEncoderError,
  type ClipEncoding,
  type ClipSpec,
  type EncodeResult,
  h264Args,
  type H264ArgsOptions,
  i420FrameBytes,
} from "./clip_encoder.ts";
export { Fmp4Error, fmp4SampleCount, type Fmp4Segment, fmp4Segments } from "./fmp4_segments.ts";
export {
  type ClipInfo,
  type ClipSink,
  type ClipSummary,
  type ClipWriter,
  SessionRecorder,
  type SessionRecorderOptions,
} from "./session_recorder.ts";
export { WasmClipEncoder, type WasmClipEncoderOptions } from "./wasm_clip_encoder.ts";
export {
  type Planogram,
  type PlanogramSlot,
  type Region,
  scenePoint,
  simulatedPlanogram,
} from "./planogram.ts";
export { checkPlanogram, type CheckPlanogramOptions, PlanogramError } from "./planogram_check.ts";
export { assignSkus, type AssignSkusOptions, type SkuAssignment } from "./planogram_assignment.ts";
export { type SlotCropOptions, slotCrops } from "./slot_crops.ts";
export {
  type CartDecision,
  type CartLine,
  decideCart,
  type DecideCartOptions,
  type ItemEvent,
  mostLikely,
  poolViews,
  reviewReasonKind,
  type SlotEvidence,
  type SlotView,
} from "./cart_decision.ts";
export { ModelLoadError, SlotClassifier, type SlotProbabilities } from "./slot_classifier.ts";
export { detectEvents, type DetectEventsOptions, type SessionMoment } from "./session_events.ts";
export {
  ClipDecodeError,
  ClipDecoder,
  type DecodeClipOptions,
  type DecodedClip,
} from "./clip_decoder.ts";
export {
  type RecognizedCart,
  SessionRecognizer,
  type SessionRecognizerOptions,
  type SlotModel,
} from "./session_recognizer.ts";
export { type CandidateCart, inputMismatch } from "./candidate_cart.ts";
export {
  type EvidenceMoment,
  type MomentInput,
  type SessionEvidence,
  sessionEvidence,
  type SlotCut,
  type SlotReading,
  type SlotRecord,
} from "./session_evidence.ts";
export {
  type DecodeOptions,
  decodeYolo,
  type Detection,
  iou,
  nonMaxSuppression,
  OnnxDetector,
  type OnnxDetectorOptions,
} from "./detector.ts";
