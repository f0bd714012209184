/**
 * Uploads spooled clips to the JetStream object store, resumably. A clip goes up in chunks
 * (the object store's own layout: chunk messages on `$O.<bucket>.C.<nuid>`, then the object's
 * metadata with its SHA-256 on `$O.<bucket>.M.<name>`), so any nats.js client reads it with
 * `ObjectStore.get`. nats.js's own `put` starts over (and purges) after a failure; over 5G a
 * clip must instead resume from the last chunk the server stored, which the server itself
 * reports. The chunk subject is remembered in the spool, so a resume also survives a restart.
 *
 * After the metadata is written the object is read back and its SHA-256 compared with the
 * local file's: a truncated or corrupt object is deleted and uploaded again. Only then
 * does the caller publish the clip-uploaded event and mark the clip uploaded.
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
 *   const uploaded = await uploadClip(nc, clip, { spool });
 *   spool.markUploaded(clip.id);
 *   console.log(uploaded.object, uploaded.digest);
 * }
 * ```
 *
 * @module
 */
import { jetstream, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection, nuid } from "@nats-io/nats-core";
import { Base64UrlPaddedCodec, Objm } from "@nats-io/obj";
import { createHash } from "node:crypto";
import { buckets } from "../protocol/mod.ts";
import type { ClipSpool, SpooledClip } from "./clip_spool.ts";

/** Options of {@link uploadClip}. */
export interface UploadClipOptions {
  /** The spool: where the upload's progress is kept. */
  readonly spool: ClipSpool;
  /** Object store bucket. Default `clips`. */
  readonly bucket?: string;
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
  /** Chunks sent by this call (0 when the object was already there). */
  readonly chunksSent: number;
  /** Chunks the server already had when this call started (a resumed upload). */
  readonly chunksResumed: number;
  /** Times the object was found corrupt or truncated and uploaded again. */
  readonly reuploads: number;
}

/** The object in the store does not match the clip. */
export class ClipVerifyError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClipVerifyError";
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

/**
 * Uploads one spooled clip, resuming an interrupted upload, and verifies the object. The caller
 * announces the clip and then marks it uploaded in the spool (in that order: a crash between
 * the two uploads nothing again and announces it again under the same event id).
 */
export async function uploadClip(
  nc: NatsConnection,
  clip: SpooledClip,
  options: UploadClipOptions,
): Promise<UploadedClip> {
  if (clip.status === "recording" || !/^[0-9a-f]{64}$/.test(clip.sha256)) {
    throw new TypeError(`Cannot upload clip "${clip.id}": it is still being recorded`);
  }
  const bucket = options.bucket ?? buckets.clips;
  const os = await new Objm(nc).create(bucket);
  const jsm = await jetstreamManager(nc);
  const object = clipObjectName(clip);
  const digest = digestOf(clip.sha256);
  let reuploads = 0;
  let chunksSent = 0;
  let chunksResumed = 0;
  for (let attempt = 0;; attempt++) {
    options.signal?.throwIfAborted();
    const info = await os.info(object);
    if (!info || info.digest !== digest || info.size !== clip.bytes) {
      const sent = await sendChunks(nc, jsm, clip, { ...options, bucket, object, digest });
      chunksSent += sent.sent;
      chunksResumed += attempt === 0 ? sent.resumed : 0;
      if (info && info.nuid !== sent.nuid) {
        // The rollup replaced the old metadata; its chunks are garbage now.
        await jsm.streams.purge(`OBJ_${bucket}`, { filter: `$O.${bucket}.C.${info.nuid}` })
          .catch(() => {});
      }
    }
    try {
      await verify(nc, bucket, object, clip.sha256);
      options.spool.setUploadState(clip.id, undefined);
      return { bucket, object, sha256: clip.sha256, digest, chunksSent, chunksResumed, reuploads };
    } catch (e) {
      if (!(e instanceof ClipVerifyError) || attempt >= 2) throw e;
      // Corrupt or truncated in the store: delete it and send it whole again.
      reuploads++;
      await os.delete(object).catch(() => {});
      options.spool.setUploadState(clip.id, undefined);
    }
  }
}

async function sendChunks(
  nc: NatsConnection,
  jsm: JetStreamManager,
  clip: SpooledClip,
  options: UploadClipOptions & { bucket: string; object: string; digest: string },
): Promise<{ nuid: string; sent: number; resumed: number }> {
  const js = jetstream(nc);
  const { bucket, spool } = options;
  let state = spool.uploadState(clip.id);
  if (!state) {
    const max = nc.info?.max_payload ?? 1 << 20;
    state = { nuid: nuid.next(), chunkBytes: Math.min(options.chunkBytes ?? 128 * 1024, max) };
    spool.setUploadState(clip.id, state);
  }
  const subject = `$O.${bucket}.C.${state.nuid}`;
  const stream = `OBJ_${bucket}`;
  // The server says how many chunks it holds: resume after the last one.
  const si = await jsm.streams.info(stream, { subjects_filter: subject });
  const resumed = si.state.subjects?.[subject] ?? 0;
  const chunks = Math.ceil(clip.bytes / state.chunkBytes);
  if (resumed > chunks) {
    throw new ClipVerifyError(
      `Upload of "${clip.id}" has ${resumed} chunks stored, expected ${chunks}`,
    );
  }
  const file = await Deno.open(clip.path, { read: true });
  let sent = 0;
  try {
    const buf = new Uint8Array(state.chunkBytes);
    for (let i = resumed; i < chunks; i++) {
      options.signal?.throwIfAborted();
      options.beforeChunk?.(i);
      const at = i * state.chunkBytes;
      await file.seek(at, Deno.SeekMode.Start);
      const want = Math.min(state.chunkBytes, clip.bytes - at);
      let got = 0;
      while (got < want) {
        const n = await file.read(buf.subarray(got, want));
        if (n === null) throw new Error(`Clip file "${clip.path}" is shorter than ${clip.bytes} B`);
        got += n;
      }
      // The message id makes a chunk sent twice (an ack lost on the way back) count once.
      await js.publish(subject, buf.slice(0, want), { msgID: `${state.nuid}.${i}` });
      sent++;
    }
  } finally {
    file.close();
  }
  options.beforeChunk?.(chunks);
  const meta = {
    name: options.object,
    description: `session ${clip.sessionId} camera ${clip.cameraId} part ${clip.part}`,
    options: { max_chunk_size: state.chunkBytes },
    metadata: { sessionId: clip.sessionId, cameraId: clip.cameraId, deviceId: clip.deviceId },
    bucket,
    nuid: state.nuid,
    size: clip.bytes,
    chunks,
    mtime: new Date().toISOString(),
    digest: options.digest,
    deleted: false,
  };
  const h = headers();
  h.set("Nats-Rollup", "sub");
  await js.publish(
    `$O.${bucket}.M.${Base64UrlPaddedCodec.encode(options.object)}`,
    JSON.stringify(meta),
    {
      headers: h,
    },
  );
  return { nuid: state.nuid, sent, resumed };
}

/** Reads the object back; throws {@link ClipVerifyError} unless it is whole and its SHA-256 matches. */
async function verify(nc: NatsConnection, bucket: string, object: string, sha256: string) {
  const os = await new Objm(nc).open(bucket);
  const hash = createHash("sha256");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const r = await os.get(object);
    if (!r) throw new ClipVerifyError(`Object "${object}" is not in bucket "${bucket}"`);
    // An object whose chunks are all gone never ends: give up after a while.
    const reader = r.data.getReader();
    timer = setTimeout(
      () => reader.cancel().catch(() => {}),
      Math.max(20_000, r.info.size / 50),
    );
    let got = 0;
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      hash.update(next.value);
      got += next.value.length;
    }
    if (got !== r.info.size) {
      throw new ClipVerifyError(`Object "${object}" has ${got} of its ${r.info.size} bytes`);
    }
    // nats.js rejects a corrupt object (digest mismatch) through `error`.
    const err = await r.error;
    if (err) {
      throw new ClipVerifyError(`Object "${object}" is corrupt: ${err.message}`, { cause: err });
    }
  } catch (e) {
    if (e instanceof ClipVerifyError) throw e;
    throw new ClipVerifyError(`Cannot read back object "${object}": ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
  const got = hash.digest("hex");
  if (got !== sha256) {
    throw new ClipVerifyError(`Object "${object}" has SHA-256 ${got}, the clip ${sha256}`);
  }
}
