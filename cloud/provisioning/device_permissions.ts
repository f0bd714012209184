/**
 * What a device may do on NATS: the publish and subscribe permissions written into its user JWT,
 * and the imports and exports that join the devices account to the cloud account (where
 * JetStream lives). A device reaches only its own subjects: its heartbeat, telemetry, events,
 * clips and update progress, its command inbox, its own shadow keys and its own object-store
 * chunks; the other device of its cabinet (`peers`) only for clock sync, frames, door events and
 * the simulated scene. Everything it reads from JetStream goes through API subjects that name what
 * is read, so the server can check them.
 *
 * @example
 * ```ts
 * import { devicePermissions } from "./device_permissions.ts";
 *
 * const p = devicePermissions({ region: "eu-west", deviceId: "m001-a", peers: ["m001-b"] });
 * p.pub.allow.includes("vs.eu-west.dev.m001-a.hb"); // true
 * ```
 *
 * @module
 */
import {
  bucketIn,
  buckets,
  claimInboxPrefix,
  DEVICE_INBOX_ROOT,
  deviceInboxPrefix,
  filters,
  kvStreamOf,
  mirrorOf,
  objectStreamOf,
  SUBJECT_ROOT,
  subjects,
} from "../../protocol/mod.ts";

/** A device's identity on the wire and the other devices of its cabinet. */
export interface DeviceGrant {
  /** Home region. */
  readonly region: string;
  /** Device id. */
  readonly deviceId: string;
  /** The other device(s) of the same cabinet (clock sync, frames). */
  readonly peers: readonly string[];
}

/** NATS user permissions as a user JWT carries them. */
export interface UserPermissions {
  /** Subjects the user may publish to. */
  readonly pub: { readonly allow: string[]; readonly deny: string[] };
  /** Subjects the user may subscribe to. */
  readonly sub: { readonly allow: string[]; readonly deny: string[] };
  /**
   * Never set for devices: a "response permission" lets a user publish to whatever reply subject
   * a message it received names, and another client chooses that subject.
   */
  readonly resp?: { readonly max: number; readonly ttl: number };
}

const TOKEN = /^[a-z0-9][a-z0-9-]{0,62}$/;

function checkToken(what: string, value: string): void {
  if (typeof value !== "string" || !TOKEN.test(value)) {
    throw new TypeError(
      `Cannot grant NATS permissions: ${what} ${JSON.stringify(value)} is invalid`,
    );
  }
}

/** The permissions of one device's user JWT. */
export function devicePermissions(grant: DeviceGrant): UserPermissions {
  checkToken("region", grant.region);
  checkToken("device id", grant.deviceId);
  for (const p of grant.peers) checkToken("peer device id", p);
  const r = grant.region;
  const own = `${SUBJECT_ROOT}.${r}.dev.${grant.deviceId}`;
  // What it reports goes to the region whose servers it is connected to (its home region, or
  // another one while its home region is down), so its own subjects in any region.
  const anyRegion = `${SUBJECT_ROOT}.*.dev.${grant.deviceId}`;
  const peers = grant.peers.map((p) => `${SUBJECT_ROOT}.${r}.dev.${p}`);
  // Its home region's buckets: `shadow_<region>`, `clips_<region>`, `snapshots_<region>`.
  const shadowBucket = bucketIn(buckets.shadow, r);
  const clips = bucketIn(buckets.clips, r);
  const snapshots = bucketIn(buckets.snapshots, r);
  const shadow = kvStreamOf(shadowBucket);
  const shadowKey = (kind: string) => `$KV.${shadowBucket}.${grant.deviceId}.${kind}`;
  const artifacts = objectStreamOf(buckets.artifacts);
  const artifactsMirror = objectStreamOf(mirrorOf(buckets.artifacts, r));
  return {
    pub: {
      allow: [
        `${anyRegion}.hb`,
        `${anyRegion}.tel`,
        `${anyRegion}.evt.*`,
        `${anyRegion}.clip`,
        `${anyRegion}.ota`,
        `${anyRegion}.obj.commit`,
        `${anyRegion}.audit`,
        `${anyRegion}.creds.renew`,
        `${anyRegion}.sessions`,
        `${own}.frames.*`,
        `${own}.sim.scene`,
        ...peers.map((p) => `${p}.clock`),
        // Replies: to the cloud's requests (their reply subjects are mapped to `_R_` by the
        // account import) and to the peer's clock requests. No response permission: with one,
        // any message received could name any subject as its reply and have the device publish
        // there.
        "_R_.>",
        ...grant.peers.map((p) => `${DEVICE_INBOX_ROOT}.${p}.>`),
        // Its shadow: read and watch its desired state, write its reported state.
        `$JS.API.DIRECT.GET.${shadow}.${shadowKey("*")}`,
        `$JS.API.CONSUMER.CREATE.${shadow}.*.${shadowKey("desired")}`,
        `$JS.API.CONSUMER.DELETE.${shadow}.*`,
        shadowKey("reported"),
        `$JS.FC.${shadow}.>`,
        // Its object-store chunks (clips, snapshots); the cloud writes the objects' metadata.
        `$O.${clips}.C.${grant.deviceId}.>`,
        `$O.${snapshots}.C.${grant.deviceId}.>`,
        `$JS.API.DIRECT.GET.${objectStreamOf(clips)}.$O.${clips}.C.${grant.deviceId}.>`,
        // Updates: signed manifests and artifact chunks are the same for every device, read by
        // direct get (metadata by subject, chunks by sequence) from the store, or from its
        // region's mirror of it; and from the stream's leader when the replica that answered a
        // direct get is behind (the content is the same, only who answers differs).
        `$JS.API.STREAM.INFO.${kvStreamOf(buckets.components)}`,
        `$JS.API.DIRECT.GET.${kvStreamOf(buckets.components)}.>`,
        `$JS.API.DIRECT.GET.${artifacts}`,
        `$JS.API.DIRECT.GET.${artifacts}.>`,
        `$JS.API.DIRECT.GET.${artifactsMirror}`,
        `$JS.API.DIRECT.GET.${artifactsMirror}.>`,
        `$JS.API.STREAM.MSG.GET.${artifacts}`,
        `$JS.API.STREAM.MSG.GET.${artifactsMirror}`,
      ],
      deny: [`${anyRegion}.cmd.>`],
    },
    sub: {
      allow: [
        // Its commands from any region (a device may fail over to another region's servers).
        filters.commands({ deviceId: grant.deviceId }),
        `${own}.clock`,
        `${deviceInboxPrefix(grant.deviceId)}.>`,
        // The cabinet's other device: its frames, door events and simulated scene.
        // (Its door events in any region: a session may belong to a failover region.)
        ...grant.peers.map((p) => filters.pipelineEvents({ deviceId: p })),
        ...peers.flatMap((p) => [`${p}.frames.*`, `${p}.sim.scene`]),
      ],
      deny: [],
    },
  };
}

/**
 * Permissions of a batch's claim credential (shared by every device of the batch until each has
 * its own): only ask the provisioning service for a nonce and claim, nothing else.
 */
export function claimPermissions(batchId: string): UserPermissions {
  checkToken("batch id", batchId);
  return {
    pub: {
      allow: [
        subjects.provisionNonce(batchId),
        subjects.provisionClaim(batchId),
      ],
      deny: [],
    },
    sub: { allow: [`${claimInboxPrefix(batchId)}.>`], deny: [] },
  };
}

/**
 * Permissions of the fleet simulator (`./vend sim`, benchmarks): one connection that plays many
 * simulated devices of any region, so it may publish on any device's subjects. Never issued to a
 * real device.
 */
export function simulatorPermissions(): UserPermissions {
  const dev = `${SUBJECT_ROOT}.*.dev.*`;
  return {
    pub: {
      allow: [`${dev}.hb`, `${dev}.tel`, "_R_.>"],
      deny: [],
    },
    sub: { allow: [`${dev}.cmd.*`], deny: [] },
  };
}

/** A subject one account shares with the other. */
export interface SharedSubject {
  /** What it is for. */
  readonly name: string;
  /** The subject (with wildcards). */
  readonly subject: string;
  /** `service`: requests into the exporting account (replies come back); `stream`: messages out. */
  readonly type: "service" | "stream";
}

const DEV = `${SUBJECT_ROOT}.*.dev.*`;

/**
 * What the cloud account (JetStream's home) offers the devices account: the JetStream API,
 * the device subjects JetStream captures (so a device's publish gets the stream's ack), the
 * object-store chunk subjects, the shadow's reported keys, and the devices' reply inboxes (for
 * consumer deliveries).
 */
export const CLOUD_TO_DEVICES: readonly SharedSubject[] = [
  // The whole JetStream API prefix: with only parts of it imported, nats-server 2.9 answers the
  // rest in the devices account itself ("JetStream not enabled"), and a consumer create never
  // reaches the cloud account. Each device's permissions narrow it to its own keys.
  { name: "JetStream API", subject: "$JS.API.>", type: "service" },
  // (Each region has its own shadow and upload buckets: `shadow_<region>`, `clips_<region>`...)
  { name: "JetStream flow control", subject: "$JS.FC.>", type: "service" },
  { name: "telemetry", subject: `${DEV}.tel`, type: "service" },
  { name: "pipeline events", subject: `${DEV}.evt.*`, type: "service" },
  { name: "clips uploaded", subject: `${DEV}.clip`, type: "service" },
  { name: "update progress", subject: `${DEV}.ota`, type: "service" },
  { name: "object commits", subject: `${DEV}.obj.commit`, type: "service" },
  { name: "device audit", subject: `${DEV}.audit`, type: "service" },
  { name: "credential renewals", subject: `${DEV}.creds.renew`, type: "service" },
  { name: "session status", subject: `${DEV}.sessions`, type: "service" },
  { name: "provisioning", subject: `${SUBJECT_ROOT}.provision.*.*`, type: "service" },
  { name: "reported shadows", subject: "$KV.*.*.reported", type: "service" },
  { name: "object chunks", subject: "$O.*.C.>", type: "service" },
  { name: "device inboxes", subject: `${DEVICE_INBOX_ROOT}.>`, type: "stream" },
];

/** What the devices account offers the cloud account: heartbeats out, commands in. */
export const DEVICES_TO_CLOUD: readonly SharedSubject[] = [
  { name: "heartbeats", subject: `${DEV}.hb`, type: "stream" },
  { name: "commands", subject: `${DEV}.cmd.*`, type: "service" },
];
