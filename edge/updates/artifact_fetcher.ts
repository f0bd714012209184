/**
 * Downloads a component version's artifacts onto the device: the signed manifest is checked
 * against the pinned keys first (nothing is downloaded for an unsigned or unknown-key manifest),
 * then each artifact is fetched chunk by chunk from the `artifacts` object store. A chunk is
 * verified by its SHA-256 before it is kept in the device's chunk store, so a download that is
 * interrupted (disconnect, restart, power loss) continues from the last verified chunk, and a
 * chunk the device already holds from an installed version is not downloaded again (delta
 * transfer). The assembled artifact is verified as a whole before it is renamed into place.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { fetchArtifacts } from "./artifact_fetcher.ts";
 * import { FileChunkStore } from "./chunk_store.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const signed = new Uint8Array(); // from the components bucket
 * const got = await fetchArtifacts(nc, signed, {
 *   trustedKeys: [], outDir: "/tmp/staging",
 *   chunks: new FileChunkStore("/var/lib/vendstream/ota/chunks"),
 * });
 * console.log(got.bytesDownloaded, got.bytesSaved);
 * ```
 *
 * @module
 */
import {
  type JetStreamManager,
  jetstreamManager,
  type MsgRequest,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { createHash } from "node:crypto";
import type { ChunkStore } from "./chunk_store.ts";
import { retry } from "../../runtime/mod.ts";
import {
  type ArtifactManifest,
  buckets,
  objectStreamOf,
  type TrustedKey,
  verifySignedManifest,
  type VersionManifest,
} from "../../protocol/mod.ts";

/** Progress of a download. */
export interface FetchProgress {
  /** Bytes of artifacts in place so far (downloaded or already held). */
  readonly bytesDone: number;
  /** Bytes of all the version's artifacts. */
  readonly bytesTotal: number;
  /** Bytes not downloaded because the device held the chunks. */
  readonly bytesSaved: number;
}

/** Options of {@link fetchArtifacts}. */
export interface FetchArtifactsOptions {
  /** Public keys the device pins. */
  readonly trustedKeys: readonly TrustedKey[];
  /** The device's store of verified chunks. */
  readonly chunks: ChunkStore;
  /** Where the assembled artifacts go (one file each, by name). */
  readonly outDir: string;
  /** Which artifacts to fetch, by name (e.g. only this device's architecture). Default all. */
  readonly select?: (name: string) => boolean;
  /** Told as chunks arrive. */
  readonly onProgress?: (p: FetchProgress) => void;
  /** Called before each chunk is fetched (tests interrupt here). */
  readonly beforeChunk?: (sha256: string) => void;
  /** Cancels the download (it resumes next time). */
  readonly signal?: AbortSignal;
  /**
   * The stream to read from: the region's mirror of the artifacts store (as the deployment
   * says, in a supercluster). Default the store's own, `OBJ_artifacts`.
   */
  readonly stream?: string;
  /** Log sink (cleanup that fails after a verification failure is logged here). */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** What {@link fetchArtifacts} did. */
export interface FetchResult extends FetchProgress {
  /** The verified manifest. */
  readonly manifest: VersionManifest;
  /** Bytes actually downloaded. */
  readonly bytesDownloaded: number;
  /** Paths of the assembled artifacts, by name. */
  readonly files: Readonly<Record<string, string>>;
}

/** An artifact or one of its chunks does not match its manifest. */
export class ArtifactVerifyError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ArtifactVerifyError";
  }
}

/** Verifies a signed manifest and downloads what its artifacts need. */
export async function fetchArtifacts(
  nc: NatsConnection,
  signed: Uint8Array | string,
  options: FetchArtifactsOptions,
): Promise<FetchResult> {
  const manifest = await verifySignedManifest(signed, options.trustedKeys);
  await Deno.mkdir(options.outDir, { recursive: true });
  // Devices may not call the account-wide API check: skip it.
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const stream = options.stream ?? objectStreamOf(buckets.artifacts);
  const wanted = manifest.artifacts.filter((a) => options.select?.(a.name) ?? true);
  const bytesTotal = wanted.reduce((n, a) => n + a.bytes, 0);
  let bytesDone = 0;
  let bytesSaved = 0;
  let bytesDownloaded = 0;
  const report = () => options.onProgress?.({ bytesDone, bytesTotal, bytesSaved });
  for (const artifact of wanted) {
    for (const chunk of artifact.chunks) {
      options.signal?.throwIfAborted();
      if (await options.chunks.has(chunk.sha256)) {
        bytesSaved += chunk.bytes;
      } else {
        options.beforeChunk?.(chunk.sha256);
        const data = await readChunk(jsm, stream, chunk.sha256, artifact.name, options.signal);
        const got = createHash("sha256").update(data).digest("hex");
        if (data.length !== chunk.bytes || got !== chunk.sha256) {
          throw new ArtifactVerifyError(
            `Chunk ${chunk.sha256} of "${artifact.name}" is corrupt: ${data.length} bytes ` +
              `with SHA-256 ${got}`,
          );
        }
        await options.chunks.put(chunk.sha256, data);
        bytesDownloaded += data.length;
      }
      bytesDone += chunk.bytes;
      report();
    }
  }
  const files: Record<string, string> = {};
  for (const artifact of wanted) {
    files[artifact.name] = await assemble(artifact, options);
  }
  return { manifest, bytesDone, bytesTotal, bytesSaved, bytesDownloaded, files };
}

/** How many times a chunk the store seems to lack is asked for again (see {@link readChunk}). */
const MISSING_ATTEMPTS = 8;

/**
 * Reads one chunk object from the store: its metadata, then its messages by direct get (two or
 * so requests that any replica can answer, where `ObjectStore.get` would create a consumer per
 * chunk, the slow part when a thousand devices update at once). Any replica of the stream (or of
 * the region's mirror) answers a direct get, including one that has not applied the latest
 * writes yet: a chunk that seems missing is asked of the stream's leader (which holds every
 * write any replica has applied), and, if the leader lacks it too (a mirror still catching up)
 * or does not answer (credentials from before devices could ask it, an election), asked for
 * again a few times over about 3 s before it is taken as missing.
 */
async function readChunk(
  jsm: JetStreamManager,
  stream: string,
  sha256: string,
  artifact: string,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const direct: GetMessage = (q) => jsm.direct.getMessage(stream, q);
  const leader: GetMessage = (q) => jsm.streams.getMessage(stream, q as MsgRequest);
  // Why the leader did not answer, when it did not: credentials issued before devices could
  // read from it, or a leader election under way. Direct gets are then asked again.
  let leaderError: unknown;
  const once = async (): Promise<Uint8Array> => {
    let missing: ChunkMissingError;
    try {
      return await readChunkOnce(direct, { stream, sha256, artifact });
    } catch (e) {
      if (!(e instanceof ChunkMissingError)) throw e;
      missing = e;
    }
    try {
      return await readChunkOnce(leader, { stream, sha256, artifact });
    } catch (e) {
      if (e instanceof ChunkMissingError) missing = e;
      else leaderError = e;
    }
    throw missing;
  };
  try {
    return await retry(once, {
      attempts: MISSING_ATTEMPTS,
      retryIf: (e) => e instanceof ChunkMissingError,
      delayMs: (attempt) => 100 * attempt,
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    // Missing on every attempt (nothing else is tried again): said with why the leader was silent.
    if (!(e instanceof ChunkMissingError) || leaderError === undefined) throw e;
    throw new ChunkMissingError(
      `${e.message}; the stream's leader did not answer: ${(leaderError as Error).message}`,
      { cause: leaderError },
    );
  }
}

/** One way of reading a stream's message: by direct get (any replica) or from its leader. */
type GetMessage = (
  q: { last_by_subj: string } | { seq: number; next_by_subj: string },
) => Promise<StoredMsg | null>;

/** A chunk (or one of its messages) the replica that answered does not hold. */
class ChunkMissingError extends ArtifactVerifyError {}

async function readChunkOnce(
  get: GetMessage,
  { stream, sha256, artifact }: { stream: string; sha256: string; artifact: string },
): Promise<Uint8Array> {
  // Not found is null; a lost connection throws (and the download resumes next time).
  const meta = await get({
    last_by_subj: `$O.${buckets.artifacts}.M.${Base64UrlPaddedCodec.encode(sha256)}`,
  });
  const info = meta?.json<{ nuid: string; size: number; chunks: number; deleted?: boolean }>();
  if (!info || info.deleted) {
    throw new ChunkMissingError(
      `Chunk ${sha256} of "${artifact}" is missing from the store (${stream})`,
    );
  }
  const subject = `$O.${buckets.artifacts}.C.${info.nuid}`;
  const out = new Uint8Array(info.size);
  let at = 0;
  let seq = 0;
  for (let i = 0; i < info.chunks; i++) {
    const m = await get({ seq, next_by_subj: subject });
    if (!m) {
      throw new ChunkMissingError(
        `Chunk ${sha256} of "${artifact}" is corrupt in the store: message ${
          i + 1
        } of ${info.chunks} is missing`,
      );
    }
    if (at + m.data.length > out.length) {
      throw new ArtifactVerifyError(
        `Chunk ${sha256} of "${artifact}" is corrupt in the store: longer than its metadata says`,
      );
    }
    out.set(m.data, at);
    at += m.data.length;
    seq = m.seq + 1;
  }
  return at === out.length ? out : out.subarray(0, at);
}

/** Joins an artifact's chunks into `outDir/<name>`, verifying the whole SHA-256. */
async function assemble(artifact: ArtifactManifest, options: FetchArtifactsOptions) {
  const path = `${options.outDir}/${artifact.name}`;
  const file = await Deno.open(`${path}.part`, { write: true, create: true, truncate: true });
  const hash = createHash("sha256");
  try {
    for (const chunk of artifact.chunks) {
      const data = await options.chunks.get(chunk.sha256);
      if (!data) {
        throw new ArtifactVerifyError(`Chunk ${chunk.sha256} of "${artifact.name}" went missing`);
      }
      hash.update(data);
      let at = 0;
      while (at < data.length) at += await file.write(data.subarray(at));
    }
    await file.sync();
  } finally {
    file.close();
  }
  const got = hash.digest("hex");
  if (got !== artifact.sha256) {
    // Cleanup on the way to the verification error below, which is what is reported: a step
    // that fails is logged and the cleanup goes on (the next attempt truncates the `.part`).
    const cleanupFailed = (what: string, e: unknown) =>
      options.log?.("warn", `cannot ${what} after a failed verification`, {
        artifact: artifact.name,
        error: String(e),
      });
    await Deno.remove(`${path}.part`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) cleanupFailed(`remove ${path}.part`, e);
    });
    // A chunk went bad on disk: drop the ones that no longer match, so the next attempt
    // downloads them again.
    for (const chunk of artifact.chunks) {
      const data = await options.chunks.get(chunk.sha256).catch((e) => {
        // Unreadable: kept as it is (reading it fails the next attempt again, and says why).
        cleanupFailed(`read chunk ${chunk.sha256}`, e);
        return undefined;
      });
      if (data && createHash("sha256").update(data).digest("hex") !== chunk.sha256) {
        await options.chunks.delete(chunk.sha256).catch((e) =>
          cleanupFailed(`drop chunk ${chunk.sha256}`, e)
        );
      }
    }
    throw new ArtifactVerifyError(
      `Artifact "${artifact.name}" has SHA-256 ${got}, its manifest says ${artifact.sha256}`,
    );
  }
  await Deno.rename(`${path}.part`, path);
  return path;
}
