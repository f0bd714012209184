/**
 * The wire contract between Vendstream devices, the cloud and outside subscribers: subject
 * builders, stream specifications, and one zod schema and never-throwing parser per message
 * family. protocol/README.md documents the same contract for clients in other languages.
 *
 * @example
 * ```ts
 * import { heartbeat, newEnvelope, parseHeartbeat, subjects } from "./mod.ts";
 *
 * const dev = { region: "local", deviceId: "m001-a" };
 * const bytes = heartbeat.encode({
 *   ...newEnvelope(), deviceId: dev.deviceId, machineId: "m001", role: "primary", seq: 1,
 *   uptimeMs: 1200, status: "ok", door: "closed", appVersion: "0.1.0", modelVersion: null,
 * });
 * // publish `bytes` on subjects.heartbeat(dev); a subscriber does:
 * const result = parseHeartbeat(bytes);
 * if (!result.ok) console.error(result.error.message); // names the offending field
 * ```
 *
 * @module
 */
export { type ParseResult, ProtocolError } from "./protocol_error.ts";
export { defineFamily, type MessageFamily } from "./message_family.ts";
export { sha256Hex, toHex } from "./hex.ts";
export { newEnvelope, newMessageId } from "./message_id.ts";
export {
  buckets,
  claimInboxPrefix,
  DEVICE_INBOX_ROOT,
  type DeviceAddress,
  type DeviceFilter,
  deviceInboxPrefix,
  filters,
  type SessionAddress,
  shadowKey,
  SUBJECT_ROOT,
  subjects,
} from "./subjects.ts";
export {
  type DeviceSubjectParts,
  deviceSubjectParts,
  type PaymentSubjectParts,
  paymentSubjectParts,
  type ProvisionSubjectParts,
  provisionSubjectParts,
} from "./subject_parts.ts";
export {
  regionStreams,
  STREAM_KINDS,
  type StreamKind,
  streamName,
  type StreamSpec,
} from "./streams.ts";
export { bucketIn, isRegionalBucket, mirrorOf, REGIONAL_BUCKETS } from "./regional_buckets.ts";
export { kvStreamOf, objectStreamOf } from "./bucket_streams.ts";
export { type Heartbeat, heartbeat, HeartbeatSchema, parseHeartbeat } from "./heartbeat.ts";
export {
  CameraMetricsSchema,
  parseTelemetry,
  StageMetricsSchema,
  type Telemetry,
  telemetry,
  TelemetrySchema,
} from "./telemetry.ts";
export {
  type Calibration,
  CalibrationSchema,
  type MachinePlanogram,
  MachinePlanogramSchema,
  type SlotAssignment,
  SlotAssignmentSchema,
  SlotAssignmentsSchema,
} from "./machine_planogram.ts";
export {
  CameraSettingsSchema,
  parseShadow,
  type Shadow,
  shadow,
  type ShadowDesired,
  ShadowDesiredSchema,
  type ShadowReported,
  ShadowReportedSchema,
  ShadowSchema,
  type ShadowState,
  ShadowStateSchema,
} from "./shadow.ts";
export {
  COMMAND_ERROR_CODES,
  COMMAND_NAMES,
  type CommandErrorCode,
  type CommandName,
  type CommandReply,
  commandReply,
  CommandReplySchema,
  type CommandRequest,
  commandRequest,
  CommandRequestSchema,
  parseCommandReply,
  parseCommandRequest,
} from "./command.ts";
export {
  parsePipelineEvent,
  type PipelineEvent,
  pipelineEvent,
  PipelineEventSchema,
  type PipelineEventType,
} from "./pipeline_event.ts";
export {
  RegionSchema,
  SessionEvidenceSchema,
  type SessionEvidenceWire,
  SlotReadingSchema,
} from "./session_evidence.ts";
export { type CandidateDecision, CandidateDecisionSchema } from "./candidate_decision.ts";
export { type ClipUploaded, clipUploaded, ClipUploadedSchema, parseClipUploaded } from "./clip.ts";
export {
  DEVICE_UPLOAD_BUCKETS,
  type ObjectCommit,
  objectCommit,
  type ObjectCommitReply,
  ObjectCommitReplySchema,
  ObjectCommitSchema,
  parseObjectCommit,
} from "./object_commit.ts";
export {
  DEPLOYMENT_STATES,
  type DeploymentEvent,
  deploymentEvent,
  DeploymentEventSchema,
  parseDeploymentEvent,
  UPDATE_PHASES,
} from "./deployment.ts";
export { type Alert, alert, ALERT_KINDS, AlertSchema, parseAlert } from "./alert.ts";
export { type AuditEntry, auditEntry, AuditEntrySchema, parseAuditEntry } from "./audit.ts";
export { clockSync, type ClockSyncMessage, ClockSyncSchema, parseClockSync } from "./clock_sync.ts";
export {
  decodeFrame,
  encodeFrame,
  type FrameHeader,
  frameHeader,
  FrameHeaderSchema,
  framePixelBytes,
} from "./frame_codec.ts";
export {
  parsePaymentEvent,
  type PaymentEvent,
  paymentEvent,
  PaymentEventSchema,
  type PaymentEventType,
  ReceiptLineSchema,
} from "./payment_event.ts";
export {
  DOCUMENTED_FAMILIES,
  type DocumentedFamily,
  jsonSchemaOf,
  renderSchemaDocs,
} from "./schema_doc.ts";
export {
  ARCHES,
  type ArtifactManifest,
  ArtifactManifestSchema,
  bestVersion,
  COMPONENT_KINDS,
  componentKey,
  componentName,
  type ComponentRecipe,
  componentRecipe,
  ComponentRecipeSchema,
  dependencyCycle,
  type DependencyProblem,
  dependencyProblems,
  semanticVersion,
  type VersionManifest,
  versionManifest,
  VersionManifestSchema,
  versionRange,
  versionSatisfies,
} from "./component.ts";
export {
  fromBase64Url,
  generateSigningKey,
  importSigningKey,
  SignatureError,
  type SignedManifest,
  signedManifest,
  SignedManifestSchema,
  type SigningKey,
  signManifest,
  toBase64Url,
  type TrustedKey,
  verifySignedManifest,
} from "./signed_manifest.ts";
export {
  signCommand,
  type SignedCommand,
  signedCommand,
  SignedCommandSchema,
  unverifiedCommandId,
  verifySignedCommand,
} from "./signed_command.ts";
export {
  type Batch,
  type BatchDevice,
  BatchSchema,
  type ClaimRequest,
  claimRequest,
  ClaimRequestSchema,
  type DeviceIdentity,
  DeviceIdentitySchema,
  parseClaimRequest,
  type ProvisioningReply,
  ProvisioningReplySchema,
} from "./provisioning.ts";
export {
  type SessionStatusReply,
  SessionStatusReplySchema,
  type SessionStatusRequest,
  SessionStatusRequestSchema,
} from "./session_status.ts";
export { type ModelManifest, modelManifest, ModelManifestSchema } from "./model_manifest.ts";
