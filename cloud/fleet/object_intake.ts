/**
 * Adopts objects devices uploaded: a device may publish only its own chunks
 * (`$O.<bucket>.C.<deviceId>.<nuid>`, its credentials allow no more), then asks on
 * `vs.<region>.dev.<deviceId>.obj.commit`. This service checks that the object's name and chunks
 * are the asking device's, that every chunk is stored and the whole has the SHA-256 announced,
 * and only then writes the object store metadata. Any nats.js client then reads the object
 * with `ObjectStore.get`. A commit repeated after a lost reply answers the same.
 *
 * @example
 * ```ts
 * import { serveObjectCommits } from "./object_intake.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * const stop = new AbortController();
 * await serveObjectCommits(nc, { signal: stop.signal });
 * ```
 *
 * @module
 */
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { headers, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { createHash } from "node:crypto";
import {
  bucketIn,
  deviceSubjectParts,
  filters,
  type ObjectCommit,
  type ObjectCommitReply,
  objectStreamOf,
  parseObjectCommit,
} from "../../protocol/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** Options of {@link serveObjectCommits}. */
export interface ObjectIntakeOptions {
  /** Region served (or all regions when absent). */
  readonly region?: string;
  /** Where refusals are logged. */
  readonly logger?: Logger;
  /** Called for each refused commit (the audit trail). */
  readonly onRefused?: (deviceId: string, reason: string) => void;
  /** Stops serving. */
  readonly signal?: AbortSignal;
}

function digestOf(hex: string): string {
  const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  return `SHA-256=${Base64UrlPaddedCodec.encode(bytes)}`;
}

/** Starts answering object commits; resolves once subscribed. */
export async function serveObjectCommits(
  nc: NatsConnection,
  options: ObjectIntakeOptions = {},
): Promise<void> {
  const subject = filters.objectCommits({ region: options.region ?? "*" });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const intake: Intake = { jsm, js, options };
  const sub = nc.subscribe(subject, {
    queue: "object-intake",
    callback: (_err, msg) => {
      void answer(intake, msg).catch((e) =>
        options.logger?.log("error", "object commit failed", { error: (e as Error).message })
      );
    },
  });
  options.signal?.addEventListener("abort", () => sub.unsubscribe(), { once: true });
  await nc.flush();
}

/** What answering a commit uses: the JetStream clients and the service's options. */
interface Intake {
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
  readonly options: ObjectIntakeOptions;
}

/** Answers one commit: refused, not (yet) complete, or adopted. */
async function answer({ jsm, js, options }: Intake, msg: Msg): Promise<void> {
  const { region, deviceId } = deviceSubjectParts(msg.subject);
  const reply = (r: ObjectCommitReply): void => void msg.respond(JSON.stringify(r));
  const refuse = (message: string) => {
    options.logger?.log("warn", "object commit refused", { deviceId, reason: message });
    options.onRefused?.(deviceId, message);
    reply({ ok: false, reason: "refused", message });
  };
  const parsed = parseObjectCommit(msg.data);
  if (!parsed.ok) return refuse(parsed.error.message);
  const c = parsed.value;
  const notOwn = notTheDevicesOwn(c, deviceId);
  if (notOwn) return refuse(notOwn);
  // The region's own store: the region the device sent the commit to.
  const bucket = bucketIn(c.bucket, region);
  const stream = objectStreamOf(bucket);
  const metaSubject = `$O.${bucket}.M.${Base64UrlPaddedCodec.encode(c.name)}`;
  const digest = digestOf(c.sha256);
  // None is null; a read that fails propagates (logged; the device, unanswered, commits again).
  const previous = await jsm.streams.getMessage(stream, { last_by_subj: metaSubject });
  const prevInfo = previous ? previous.json<{ nuid?: string; digest?: string }>() : undefined;
  // Checked even when repeated (a lost reply): the chunks may have been lost meanwhile.
  const checked = await checkChunks(jsm, c, bucket);
  if (!checked.ok) {
    if (checked.reason === "corrupt" || checked.reason === "incomplete") {
      // The device sends it again under a new nuid (it commits only after sending every
      // chunk): these chunks are garbage.
      await jsm.streams.purge(stream, { filter: `$O.${bucket}.C.${c.nuid}` }).catch((e) =>
        // Garbage left behind (the bucket's limits age it out); the device is answered.
        options.logger?.log("warn", "refused chunks not purged", {
          deviceId,
          name: c.name,
          error: String(e),
        })
      );
    }
    return reply(checked);
  }
  const h = headers();
  h.set("Nats-Rollup", "sub");
  await js.publish(metaSubject, JSON.stringify(metadataOf(c, bucket, digest)), { headers: h });
  if (prevInfo?.nuid && prevInfo.nuid !== c.nuid) {
    // The rollup replaced the old metadata; its chunks are garbage now.
    await jsm.streams.purge(stream, { filter: `$O.${bucket}.C.${prevInfo.nuid}` })
      .catch((e) =>
        // Garbage left behind; the commit itself is done.
        options.logger?.log("warn", "replaced chunks not purged", {
          deviceId,
          name: c.name,
          error: String(e),
        })
      );
  }
  reply({ ok: true, size: c.size, sha256: c.sha256 });
}

/** Why the commit is not `deviceId`'s own to make (its device, name or chunks), or null. */
function notTheDevicesOwn(c: ObjectCommit, deviceId: string): string | null {
  if (c.deviceId !== deviceId) {
    return `device "${deviceId}" cannot commit for device "${c.deviceId}"`;
  }
  if (!c.name.startsWith(`${deviceId}/`)) {
    return `object "${c.name}" is not under "${deviceId}/"`;
  }
  if (!c.nuid.startsWith(`${deviceId}.`)) {
    return `chunks "${c.nuid}" are not device "${deviceId}"'s`;
  }
  return null;
}

/** The object store metadata of a checked commit. */
function metadataOf(c: ObjectCommit, bucket: string, digest: string) {
  return {
    name: c.name,
    description: c.description ?? "",
    options: { max_chunk_size: c.chunkBytes },
    metadata: c.metadata ?? {},
    bucket,
    nuid: c.nuid,
    size: c.size,
    chunks: c.chunks,
    mtime: new Date().toISOString(),
    digest,
    deleted: false,
  };
}

/** Reads the chunks by direct get: all there, the right size and SHA-256? */
async function checkChunks(
  jsm: JetStreamManager,
  c: ObjectCommit,
  bucket: string,
): Promise<ObjectCommitReply> {
  const stream = objectStreamOf(bucket);
  const chunkSubject = `$O.${bucket}.C.${c.nuid}`;
  const hash = createHash("sha256");
  let size = 0;
  let seq = 0;
  let stored = 0;
  for (; stored < c.chunks; stored++) {
    // No (more) chunk is null. A read that fails propagates: it must not pass for
    // "incomplete", whose chunks are purged.
    const m = await jsm.direct.getMessage(stream, { seq, next_by_subj: chunkSubject });
    if (!m) break;
    hash.update(m.data);
    size += m.data.length;
    seq = m.seq + 1;
  }
  if (stored < c.chunks) {
    return {
      ok: false,
      reason: "incomplete",
      message: `object "${c.name}" has ${stored} of its ${c.chunks} chunks`,
      storedChunks: stored,
    };
  }
  const extra = await jsm.direct.getMessage(stream, { seq, next_by_subj: chunkSubject });
  const sha = hash.digest("hex");
  if (extra || size !== c.size || sha !== c.sha256) {
    return {
      ok: false,
      reason: "corrupt",
      message: `object "${c.name}" is corrupt in the store: ${size} B with SHA-256 ${sha}` +
        (extra ? " and more chunks than announced" : "") +
        `, expected ${c.size} B with ${c.sha256}`,
      storedChunks: stored,
    };
  }
  return { ok: true, size, sha256: sha };
}
