/**
 * Uploads spooled clips to the JetStream object store, resumably. A clip goes up in chunks
 * (the object store's own layout) on `$O.<bucket>.C.<deviceId>.<nuid>`, the only chunk subjects
 * the device's credentials allow; then the device asks the cloud to commit the object
 * (`vs.<region>.dev.<deviceId>.obj.commit`): the cloud checks every chunk and the SHA-256 and
 * writes the object's metadata, so any nats.js client reads it with `ObjectStore.get`.
 * nats.js's own `put` starts over (and purges) after a failure; over 5G a clip must instead
 * resume from the last chunk the server stored, which the server itself reports (the last
 * chunk's message id). The chunk subject is remembered in the spool, so a resume also survives
 * a restart. A commit that finds the object corrupt makes the device send it whole again.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { ClipSpool } from "./clip_spool.ts";
 * import { uploadClip } from "./clip_uploader.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * using spool = ClipSpool.open({ dir: "/tmp/clips", quotaBytes: 1 << 30 });
 * for (const clip of spool.pending()) {
 *   const uploaded = await uploadClip(nc, clip, { spool, region: "eu-west" });
 *   spool.markUploaded(clip.id);
 *   console.log(uploaded.object, uploaded.digest);
 * }
 * ```
 *
 * @module
 */
import { jetstream, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { errors, type NatsConnection, nuid } from "@nats-io/nats-core";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { createHash } from "node:crypto";
import {
  bucketIn,
  newEnvelope,
  type ObjectCommit,
  ObjectCommitReplySchema,
  objectStreamOf,
  subjects,
} from "../../protocol/mod.ts";
import { retry } from "../../runtime/mod.ts";
import type { ClipSpool, SpooledClip } from "./clip_spool.ts";

/** Options of {@link uploadClip}. */
export interface UploadClipOptions {
  /** The spool: where the upload's progress is kept. */
  readonly spool: ClipSpool;
  /** The device's region (the commit subject). Default `local`. */
  readonly region?: string;
  /** Object store bucket. Default `clips`. */
  readonly bucket?: "clips" | "snapshots";
  /** Chunk size of a new upload, bytes. Default 128 KiB (a resumed one keeps its own). */
  readonly chunkBytes?: number;
  /** Called before each chunk is published (tests interrupt uploads here). */
  readonly beforeChunk?: (index: number) => void;
  /** Cancels the upload (it resumes next time). */
  readonly signal?: AbortSignal;
}

/** An uploaded, verified clip. */
export interface UploadedClip {
  /** Bucket and object name. */
  readonly bucket: string;
  /** Object name. */
  readonly object: string;
  /** SHA-256 of the object, hex. */
  readonly sha256: string;
  /** The object store's digest string, `SHA-256=<base64url>`. */
  readonly digest: string;
  /** Chunks sent by this call (0 when the server already had them all). */
  readonly chunksSent: number;
  /** Chunks the server already had when this call started (a resumed upload). */
  readonly chunksResumed: number;
  /** Times the cloud found the object corrupt and it was uploaded again. */
  readonly reuploads: number;
}

/** The cloud found the object corrupt, or refused it. */
export class ClipVerifyError extends Error {
  /** The cloud's reason when it answered the commit (absent: its answer was not readable). */
  readonly reason?: "incomplete" | "corrupt" | "refused";
  /** Creates the error. */
  constructor(
    message: string,
    options?: ErrorOptions & { reason?: "incomplete" | "corrupt" | "refused" },
  ) {
    super(message, options);
    this.name = "ClipVerifyError";
    if (options?.reason) this.reason = options.reason;
  }
}

/** The object name of a clip. */
export function clipObjectName(
  clip: Pick<SpooledClip, "deviceId" | "sessionId" | "cameraId" | "part">,
): string {
  return `${clip.deviceId}/${clip.sessionId}/${clip.cameraId}-${clip.part}.mp4`;
}

function digestOf(hex: string): string {
  const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  return `SHA-256=${Base64UrlPaddedCodec.encode(bytes)}`;
}

/** Where an object's bytes come from: a file or memory. */
type Source =
  | { readonly path: string; readonly bytes: number }
  | { readonly data: Uint8Array; readonly bytes: number };

interface UploadState {
  nuid: string;
  chunkBytes: number;
}

/**
 * Uploads one spooled clip, resuming an interrupted upload, and has the cloud commit it. The
 * caller announces the clip and then marks it uploaded in the spool (in that order: a crash
 * between the two sends nothing again, commits again and announces it again under the same
 * event id).
 */
export async function uploadClip(
  nc: NatsConnection,
  clip: SpooledClip,
  options: UploadClipOptions,
): Promise<UploadedClip> {
  if (clip.status === "recording" || !/^[0-9a-f]{64}$/.test(clip.sha256)) {
    throw new TypeError(`Cannot upload clip "${clip.id}": it is still being recorded`);
  }
  const bucket = options.bucket ?? "clips";
  const object = clipObjectName(clip);
  const { spool } = options;
  const result = await uploadObject(nc, { path: clip.path, bytes: clip.bytes }, {
    ...options,
    bucket,
    object,
    deviceId: clip.deviceId,
    sha256: clip.sha256,
    description: `session ${clip.sessionId} camera ${clip.cameraId} part ${clip.part}`,
    metadata: { sessionId: clip.sessionId, cameraId: clip.cameraId, deviceId: clip.deviceId },
    state: {
      get: () => spool.uploadState(clip.id),
      set: (s) => spool.setUploadState(clip.id, s),
    },
  });
  return result;
}

/** Options of {@link uploadBlob}. */
export interface UploadBlobOptions {
  /** The device's region. Default `local`. */
  readonly region?: string;
  /** The uploading device (the object's name must start with `<deviceId>/`). */
  readonly deviceId: string;
  /** Bucket. */
  readonly bucket: "clips" | "snapshots";
  /** Object name. */
  readonly object: string;
  /** Cancels the upload. */
  readonly signal?: AbortSignal;
}

/** Uploads a small object held in memory (a snapshot) and has the cloud commit it. */
export async function uploadBlob(
  nc: NatsConnection,
  data: Uint8Array,
  options: UploadBlobOptions,
): Promise<UploadedClip> {
  const sha256 = createHash("sha256").update(data).digest("hex");
  let state: UploadState | undefined;
  return await uploadObject(nc, { data, bytes: data.length }, {
    ...options,
    sha256,
    state: { get: () => state, set: (s) => (state = s) },
  });
}

async function uploadObject(
  nc: NatsConnection,
  source: Source,
  o: {
    region?: string;
    bucket: "clips" | "snapshots";
    object: string;
    deviceId: string;
    sha256: string;
    description?: string;
    metadata?: Record<string, string>;
    chunkBytes?: number;
    beforeChunk?: (index: number) => void;
    signal?: AbortSignal;
    state: { get(): UploadState | undefined; set(s: UploadState | undefined): void };
  },
): Promise<UploadedClip> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const commitSubject = subjects.objectCommit({
    region: o.region ?? "local",
    deviceId: o.deviceId,
  });
  let reuploads = 0;
  let chunksSent = 0;
  let chunksResumed = 0;
  // A commit that finds chunks missing or the object corrupt after every chunk was sent means
  // one was lost in the store (a chunk sent again under its old id would be dropped as a
  // duplicate): the object goes up whole again under a new chunk subject (the cloud dropped the
  // bad chunks), four tries in all. A refusal, an unreadable answer or a lost link propagates.
  await retry(async (attempt) => {
    o.signal?.throwIfAborted();
    if (attempt > 1) {
      reuploads++;
      o.state.set(undefined);
    }
    const state = uploadStateOf(nc, o);
    // Chunks go to the region's own store (`clips_<region>`); the commit names the kind.
    const sent = await sendChunks(nc, jsm, source, state, {
      ...o,
      bucket: bucketIn(o.bucket, o.region ?? "local"),
    });
    chunksSent += sent.sent;
    if (attempt === 1) chunksResumed = sent.resumed;
    await commitObject(nc, commitSubject, {
      ...newEnvelope(),
      deviceId: o.deviceId,
      bucket: o.bucket,
      name: o.object,
      nuid: state.nuid,
      size: source.bytes,
      chunks: Math.ceil(source.bytes / state.chunkBytes),
      chunkBytes: state.chunkBytes,
      sha256: o.sha256,
      ...(o.description ? { description: o.description } : {}),
      ...(o.metadata ? { metadata: o.metadata } : {}),
    });
  }, {
    attempts: 4,
    retryIf: (e) =>
      e instanceof ClipVerifyError && e.reason !== undefined && e.reason !== "refused",
  });
  return {
    bucket: o.bucket,
    object: o.object,
    sha256: o.sha256,
    digest: digestOf(o.sha256),
    chunksSent,
    chunksResumed,
    reuploads,
  };
}

/** The upload's chunk subject and size: the one remembered, or a new one. */
function uploadStateOf(
  nc: NatsConnection,
  o: {
    deviceId: string;
    chunkBytes?: number;
    state: { get(): UploadState | undefined; set(s: UploadState | undefined): void };
  },
): UploadState {
  const known = o.state.get();
  if (known?.nuid.startsWith(`${o.deviceId}.`)) return known;
  const max = nc.info?.max_payload ?? 1 << 20;
  const state = {
    nuid: `${o.deviceId}.${nuid.next()}`,
    chunkBytes: Math.min(o.chunkBytes ?? 128 * 1024, max),
  };
  o.state.set(state);
  return state;
}

/** Asks the cloud to commit the object; a `ClipVerifyError` carries its reason when it will not. */
async function commitObject(
  nc: NatsConnection,
  subject: string,
  commit: ObjectCommit,
): Promise<void> {
  const msg = await nc.request(subject, JSON.stringify(commit), { timeout: 30_000 });
  const reply = ObjectCommitReplySchema.safeParse(msg.json());
  if (!reply.success) {
    throw new ClipVerifyError(`Commit of "${commit.name}" got an unreadable reply`, {
      cause: reply.error,
    });
  }
  const r = reply.data;
  if (!r.ok) {
    throw new ClipVerifyError(`Cannot commit "${commit.name}": ${r.message}`, {
      reason: r.reason,
    });
  }
}

async function sendChunks(
  nc: NatsConnection,
  jsm: JetStreamManager,
  source: Source,
  state: UploadState,
  o: {
    bucket: string;
    object: string;
    beforeChunk?: (index: number) => void;
    signal?: AbortSignal;
  },
): Promise<{ sent: number; resumed: number }> {
  const js = jetstream(nc, { checkAPI: false });
  const subject = `$O.${o.bucket}.C.${state.nuid}`;
  const stream = objectStreamOf(o.bucket);
  // The server says which chunk it stored last (its message id): resume after it. None stored
  // is null. When it cannot be asked (the credentials allow no direct get of this store: a
  // snapshot, sent whole; or the stream answers none: no responders) the upload starts at the
  // first chunk (a chunk sent again keeps its id; the commit checks the object). Any other
  // failure (a timeout, a lost connection) fails this upload, which resumes later.
  const last = await jsm.direct.getMessage(stream, { last_by_subj: subject }).catch((e) => {
    const cannotAsk = e instanceof errors.RequestError &&
      (e.isNoResponders() || e.cause instanceof errors.PermissionViolationError);
    if (cannotAsk) return null;
    throw e;
  });
  const lastId = last?.header.get("Nats-Msg-Id") ?? "";
  const resumed = lastId.startsWith(`${state.nuid}.`)
    ? Number(lastId.slice(state.nuid.length + 1)) + 1
    : 0;
  const chunks = Math.ceil(source.bytes / state.chunkBytes);
  if (!Number.isInteger(resumed) || resumed > chunks) {
    throw new ClipVerifyError(
      `Upload of "${o.object}" has ${resumed} chunks stored, expected ${chunks}`,
    );
  }
  const file = "path" in source ? await Deno.open(source.path, { read: true }) : undefined;
  let sent = 0;
  try {
    const buf = new Uint8Array(state.chunkBytes);
    for (let i = resumed; i < chunks; i++) {
      o.signal?.throwIfAborted();
      o.beforeChunk?.(i);
      const at = i * state.chunkBytes;
      const want = Math.min(state.chunkBytes, source.bytes - at);
      let data: Uint8Array;
      if (file) {
        await file.seek(at, Deno.SeekMode.Start);
        let got = 0;
        while (got < want) {
          const n = await file.read(buf.subarray(got, want));
          if (n === null) {
            throw new Error(`File of "${o.object}" is shorter than ${source.bytes} B`);
          }
          got += n;
        }
        data = buf.slice(0, want);
      } else {
        data = (source as { data: Uint8Array }).data.slice(at, at + want);
      }
      // The message id makes a chunk sent twice (an ack lost on the way back) count once.
      await js.publish(subject, data, { msgID: `${state.nuid}.${i}` });
      sent++;
    }
  } finally {
    file?.close();
  }
  o.beforeChunk?.(chunks);
  return { sent, resumed };
}
