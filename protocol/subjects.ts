/**
 * Subject builders: the only place where NATS subjects are spelled. Every other module builds
 * subjects through these functions, so the hierarchy documented in protocol/README.md is the one
 * on the wire.
 *
 * Hierarchy (`vs` = Vendstream):
 *
 * ```
 * vs.<region>.dev.<deviceId>.hb                 heartbeat
 * vs.<region>.dev.<deviceId>.tel                telemetry
 * vs.<region>.dev.<deviceId>.cmd.<command>      command request (reply to the request's inbox)
 * vs.<region>.dev.<deviceId>.evt.<type>         pipeline event
 * vs.<region>.dev.<deviceId>.clip               clip uploaded
 * vs.<region>.dev.<deviceId>.ota                update progress
 * vs.<region>.dev.<deviceId>.obj.commit         a device's uploaded object, to adopt (request/reply)
 * vs.<region>.dev.<deviceId>.audit              what a device refused (a bad or replayed command)
 * vs.<region>.dev.<deviceId>.creds.renew        a device renews its credentials (request/reply)
 * vs.<region>.dev.<deviceId>.sessions           whether its sessions are paid (request/reply)
 * vs.provision.<batchId>.nonce|claim            a new device claims its identity (request/reply)
 * vs.<region>.dev.<deviceId>.clock              clock sync request to a primary device (request/reply)
 * vs.<region>.dev.<deviceId>.frames.<cameraId>  video frames of a secondary device's camera
 * vs.<region>.dev.<deviceId>.sim.scene          a simulated primary's new scenario (simulation only)
 * vs.<region>.deploy.<deploymentId>             deployment state
 * vs.<region>.pay.<sessionId>.<type>            payment session event
 * vs.<region>.alert.<kind>                      alert raised or cleared
 * vs.<region>.audit.<action>                    audit entry
 * ```
 *
 * @example
 * ```ts
 * import { filters, subjects } from "./subjects.ts";
 * const dev = { region: "eu-west", deviceId: "m001-a" };
 * subjects.heartbeat(dev); // "vs.eu-west.dev.m001-a.hb"
 * filters.heartbeats({ region: "eu-west" }); // "vs.eu-west.dev.*.hb"
 * ```
 *
 * @module
 */
import type { CommandName } from "./command.ts";
import type { PaymentEventType } from "./payment_event.ts";
import type { PipelineEventType } from "./pipeline_event.ts";

/** Root token of every Vendstream subject. */
export const SUBJECT_ROOT = "vs";

const TOKEN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/;
const NAME = /^[a-z][a-z0-9_]{0,31}$/;
const CAMERA = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** A device as addressed on the wire: its home region and its id. */
export interface DeviceAddress {
  /** Region id, e.g. `"eu-west"`. */
  readonly region: string;
  /** Device id, e.g. `"m001-a"`. */
  readonly deviceId: string;
}

/** A payment session as addressed on the wire. */
export interface SessionAddress {
  /** Region that owns the session. */
  readonly region: string;
  /** Session id. */
  readonly sessionId: string;
}

function check(what: string, value: string, pattern: RegExp): string {
  if (typeof value !== "string" || !pattern.test(value)) {
    throw new TypeError(
      `Cannot build a subject: ${what} ${JSON.stringify(value)} does not match ${pattern}`,
    );
  }
  return value;
}

function checkOrAny(what: string, value: string | undefined, pattern: RegExp): string {
  return value === undefined || value === "*" ? "*" : check(what, value, pattern);
}

function device(dev: DeviceAddress): string {
  return `${SUBJECT_ROOT}.${check("region", dev.region, TOKEN)}.dev.${
    check("device id", dev.deviceId, TOKEN)
  }`;
}

/** Builders of concrete subjects (no wildcards) for publishing. */
export const subjects = {
  /** Heartbeat of one device (core NATS). */
  heartbeat: (dev: DeviceAddress): string => `${device(dev)}.hb`,
  /** Telemetry of one device (TELEMETRY stream). */
  telemetry: (dev: DeviceAddress): string => `${device(dev)}.tel`,
  /** Command request to one device (request/reply). */
  command: (dev: DeviceAddress, command: CommandName | string): string =>
    `${device(dev)}.cmd.${check("command", command, NAME)}`,
  /** Pipeline event of one device (EVENTS stream). */
  pipelineEvent: (dev: DeviceAddress, type: PipelineEventType): string =>
    `${device(dev)}.evt.${check("event type", type, NAME)}`,
  /** Clip uploaded by one device (EVENTS stream). */
  clipUploaded: (dev: DeviceAddress): string => `${device(dev)}.clip`,
  /** Update progress of one device (UPDATES stream). */
  updateProgress: (dev: DeviceAddress): string => `${device(dev)}.ota`,
  /**
   * A device asks the cloud to adopt an object whose chunks it uploaded (request/reply): the
   * cloud writes the object's metadata, since a device may only write its own chunks.
   */
  objectCommit: (dev: DeviceAddress): string => `${device(dev)}.obj.commit`,
  /** A device asks whether its door sessions are paid (request/reply). */
  sessionStatus: (dev: DeviceAddress): string => `${device(dev)}.sessions`,
  /** A device asks for fresh credentials before its own expire (request/reply). */
  credentialsRenew: (dev: DeviceAddress): string => `${device(dev)}.creds.renew`,
  /** A new device of a batch asks for a nonce to sign (request/reply; claim credential). */
  provisionNonce: (batchId: string): string =>
    `${SUBJECT_ROOT}.provision.${check("batch id", batchId, TOKEN)}.nonce`,
  /** A new device of a batch claims its identity (request/reply; claim credential). */
  provisionClaim: (batchId: string): string =>
    `${SUBJECT_ROOT}.provision.${check("batch id", batchId, TOKEN)}.claim`,
  /** Audit entry of one device: a command it refused or recognized as replayed (AUDIT stream). */
  deviceAudit: (dev: DeviceAddress): string => `${device(dev)}.audit`,
  /** Clock sync requests to a primary device (request/reply). */
  clock: (dev: DeviceAddress): string => `${device(dev)}.clock`,
  /** Video frames of one camera of a secondary device (core NATS, binary). */
  frames: (dev: DeviceAddress, cameraId: string): string =>
    `${device(dev)}.frames.${check("camera id", cameraId, CAMERA)}`,
  /**
   * A simulated cabinet's new scenario, announced by its primary so that its secondary's cameras
   * film the same scene (simulation only: demos and tests; core NATS, JSON `{seed, startedAt}`).
   */
  simulatedScene: (dev: DeviceAddress): string => `${device(dev)}.sim.scene`,
  /** State change of one deployment (UPDATES stream). */
  deployment: (region: string, deploymentId: string): string =>
    `${SUBJECT_ROOT}.${check("region", region, TOKEN)}.deploy.${
      check("deployment id", deploymentId, ID)
    }`,
  /** Payment session event (PAYMENTS stream). */
  payment: (session: SessionAddress, type: PaymentEventType): string =>
    `${SUBJECT_ROOT}.${check("region", session.region, TOKEN)}.pay.${
      check("session id", session.sessionId, ID)
    }.${check("payment event type", type, NAME)}`,
  /** Alert raised or cleared (ALERTS stream). */
  alert: (region: string, kind: string): string =>
    `${SUBJECT_ROOT}.${check("region", region, TOKEN)}.alert.${check("alert kind", kind, NAME)}`,
  /** Audit entry (AUDIT stream); the action's dots become underscores in the subject. */
  audit: (region: string, action: string): string =>
    `${SUBJECT_ROOT}.${check("region", region, TOKEN)}.audit.${
      check("audit action", action.replaceAll(".", "_"), NAME)
    }`,
} as const;

/** Which region and device a filter selects; a missing part (or `"*"`) matches any. */
export interface DeviceFilter {
  /** Region id, or any region when absent. */
  readonly region?: string;
  /** Device id, or any device when absent. */
  readonly deviceId?: string;
}

function deviceFilter(filter: DeviceFilter): string {
  return `${SUBJECT_ROOT}.${checkOrAny("region", filter.region, TOKEN)}.dev.${
    checkOrAny("device id", filter.deviceId, TOKEN)
  }`;
}

/** Builders of subscription filters (with wildcards). */
export const filters = {
  /** Heartbeats of the selected devices. */
  heartbeats: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.hb`,
  /** Telemetry of the selected devices. */
  telemetry: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.tel`,
  /** Command requests to the selected devices (a device subscribes to its own, in any region). */
  commands: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.cmd.*`,
  /** Pipeline events of the selected devices (of one type, or all). */
  pipelineEvents: (filter: DeviceFilter = {}, type?: PipelineEventType): string =>
    `${deviceFilter(filter)}.evt.${type ? check("pipeline event type", type, NAME) : "*"}`,
  /** Clip-uploaded events of the selected devices. */
  clipsUploaded: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.clip`,
  /** Update progress of the selected devices. */
  updateProgress: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.ota`,
  /** Object commits (requests) of the selected devices. */
  objectCommits: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.obj.commit`,
  /** Session-status requests of the selected devices. */
  sessionStatusRequests: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.sessions`,
  /** Credential renewals (requests) of the selected devices. */
  credentialsRenewals: (filter: DeviceFilter = {}): string => `${deviceFilter(filter)}.creds.renew`,
  /** Nonce requests of a provisioning batch (or of all). */
  provisionNonces: (batchId?: string): string =>
    `${SUBJECT_ROOT}.provision.${checkOrAny("batch id", batchId, TOKEN)}.nonce`,
  /** Claims of a provisioning batch (or of all). */
  provisionClaims: (batchId?: string): string =>
    `${SUBJECT_ROOT}.provision.${checkOrAny("batch id", batchId, TOKEN)}.claim`,
  /** Deployment state changes in a region (or all). */
  deployments: (region?: string): string =>
    `${SUBJECT_ROOT}.${checkOrAny("region", region, TOKEN)}.deploy.*`,
  /** Payment events in a region (or all), optionally of one session. */
  payments: (region?: string, options: { sessionId?: string } = {}): string =>
    `${SUBJECT_ROOT}.${checkOrAny("region", region, TOKEN)}.pay.${
      checkOrAny("session id", options.sessionId, ID)
    }.*`,
} as const;

/** Root of the devices' reply inboxes: `_INBOX_dev.<deviceId>.<nuid>`. */
export const DEVICE_INBOX_ROOT = "_INBOX_dev";

/**
 * The reply-inbox prefix of a device's connection (nats.js `inboxPrefix`): a device may only
 * receive replies and deliveries under its own.
 */
export function deviceInboxPrefix(deviceId: string): string {
  return `${DEVICE_INBOX_ROOT}.${check("device id", deviceId, TOKEN)}`;
}

/** The reply-inbox prefix of a device claiming with its batch's claim credential. */
export function claimInboxPrefix(batchId: string): string {
  return `_INBOX_claim.${check("batch id", batchId, TOKEN)}`;
}

/** KV bucket names. */
export const buckets = {
  /** Device shadows: keys `<deviceId>.desired` and `<deviceId>.reported`. */
  shadow: "shadow",
  /** The fleet registry: `device.<id>`, `group.<id>`, `region.<id>`. */
  registry: "registry",
  /** Price lists, `list.<id>` (each revision also `rev.<id>.<revision>`), and the list each machine sells at, `machine.<machineId>`. */
  prices: "prices",
  /** Each machine's planogram (SKU and par level per slot): key `machine.<machineId>`, versions in its history. */
  planograms: "planograms",
  /** Each region's device counts, written by its cloud every few seconds: key `<region>`. */
  regionSummaries: "region_summaries",
  /** Current status of each device: key `<deviceId>`. */
  status: "status",
  /** Commands sent through the API and their outcome: key `<commandId>`. */
  commands: "commands",
  /** Alerts currently raised: key `<kind>.<deviceId>`. */
  alerts: "alerts",
  /** Service settings shared by all cloud instances (e.g. the token signing key). */
  service: "service",
  /** Object store of session clips: objects `<deviceId>/<sessionId>/<cameraId>-<part>.mp4`. */
  clips: "clips",
  /** Provisioning batches and their allowlists: key `<batchId>`. */
  batches: "batches",
  /** Each device's issued credentials (public key, expiry, revocation): key `<deviceId>`. */
  deviceCredentials: "device_credentials",
  /** Revoked device keys, key: the public nkey, value `{deviceId, at}` (all cloud instances'). */
  revocations: "revocations",
  /** Serials claimed, key `<batchId>.<serial>` (created once: a serial claims once). */
  claims: "claims",
  /** Provisioning nonces handed out, key: the nonce (used once, valid 5 minutes). */
  provisionNonces: "provision_nonces",
  /** Object store of camera snapshots: `<deviceId>/<cameraId>/<ts>.jpg` and `.../latest.jpg`. */
  snapshots: "snapshots",
  /** Signed version manifests of components: key `<component>.<version>`. */
  components: "components",
  /** Object store of artifact chunks, each named by its SHA-256 (shared by all versions). */
  artifacts: "artifacts",
  /**
   * Object store of artifacts uploaded ahead of their version's publication:
   * `<component>@<version>/<name>`, removed once published (and after a day regardless).
   */
  uploads: "uploads",
  /** Deployments: key `<deploymentId>`. */
  deployments: "deployments",
  /** Each device's part in a deployment: key `<deploymentId>.<deviceId>`. */
  deploymentDevices: "deployment_devices",
  /** Payment sessions (state and last event): key `<sessionId>`. */
  paymentSessions: "payment_sessions",
  /** Which payment session a provider hold belongs to (for the provider's webhooks): key `<holdId>`. */
  paymentHolds: "payment_holds",
  /** The review queue's index: key `<sessionId>` of every payment session in review. */
  paymentReview: "payment_review",
  /** Each customer's payment sessions (an index): key `<customerId>.<sessionId>`, empty value. */
  customerSessions: "customer_sessions",
  /** Customers' one-time sign-in codes (hashed), key: SHA-256 of the contact. */
  customerCodes: "customer_codes",
  /** Contacts to customers (`c.<sha256>`) and each customer's sign-in generation (`g.<id>`). */
  customerLogins: "customer_logins",
  /** Customers and their payment methods (provider tokens only): key `<customerId>`. */
  customers: "customers",
  /** The ledger: one balanced transaction per money movement, key `<sessionId>.<step>`. */
  ledger: "ledger",
  /**
   * Field accuracy: sessions counted per machine, model version and hour, key
   * `<machineId>.<model version, . written =2E>.<hours since 1970>`.
   */
  fieldAccuracy: "field_accuracy",
  /**
   * Field samples: each door session's decision, per-slot evidence and clips, key `<sessionId>`
   * (the label is the payment session's outcome).
   */
  fieldSamples: "field_samples",
  /** The sandbox payment provider's holds and idempotency records. */
  paymentSandbox: "payment_sandbox",
} as const;

/** Key of one side of a device's shadow in the `shadow` bucket. */
export function shadowKey(deviceId: string, kind: "desired" | "reported"): string {
  if (kind !== "desired" && kind !== "reported") {
    throw new TypeError(
      `Cannot build a shadow key: kind ${JSON.stringify(kind)} is not "desired" or "reported"`,
    );
  }
  return `${check("device id", deviceId, TOKEN)}.${kind}`;
}
