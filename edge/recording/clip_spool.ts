/**
 * The device's clip spool: session clips on local disk until they are uploaded, under a disk
 * quota. When a new clip needs room, the oldest clips go first, but never a clip of a session
 * whose payment is not settled (it is the evidence if the customer disputes the charge). When
 * there is no room left (the quota is all unsettled clips, or the disk itself is full) the clip
 * is refused with {@link SpoolFullError} and an alert is raised; nothing crashes.
 *
 * Clips are written as `<id>.mp4.part` and renamed when complete; the index is a SQLite
 * database (WAL) beside them. After a crash, a partial file is kept as a `broken` clip (it is
 * fragmented MP4, playable up to its last fragment).
 *
 * @example
 * ```ts
 * import { ClipSpool } from "./clip_spool.ts";
 *
 * using spool = ClipSpool.open({ dir: "/var/lib/vendstream/clips", quotaBytes: 2 << 30 });
 * spool.markSettled("s-1");
 * console.log(spool.usage(), spool.pending().length);
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import {
  type ClipInfo,
  type ClipSink,
  type ClipSummary,
  type ClipWriter,
  fmp4SampleCount,
} from "../../pipeline/mod.ts";

/** A clip in the spool. */
export interface SpooledClip {
  /** Spool id, `<sessionId>.<cameraId>.<part>`. */
  readonly id: string;
  readonly sessionId: string;
  readonly cameraId: string;
  readonly deviceId: string;
  readonly part: number;
  readonly path: string;
  readonly status: "recording" | "complete" | "broken";
  readonly bytes: number;
  /** SHA-256 of the file, hex; empty while recording. */
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly frames: number;
  readonly startTs: number;
  readonly endTs: number;
  /** Unix ms it was uploaded and verified, or null. */
  readonly uploadedAt: number | null;
  readonly reason: string | null;
}

/** A spool alert (the agent turns it into a pipeline event). */
export interface SpoolAlert {
  readonly kind: "spool_full";
  /** What could not be stored and why. */
  readonly reason: string;
  readonly sessionId: string;
  readonly cameraId: string;
}

/** Options of {@link ClipSpool.open}. */
export interface ClipSpoolOptions {
  /** Folder of the clips and their index (created if missing). */
  readonly dir: string;
  /** Most bytes of clips kept. */
  readonly quotaBytes: number;
  /** Told when a clip cannot be stored. */
  readonly onAlert?: (alert: SpoolAlert) => void;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Log sink (what fails without failing a clip: a sync, a file left behind). */
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** A clip could not be stored: the spool is full of clips it must keep, or the disk is full. */
export class SpoolFullError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpoolFullError";
  }
}

/** The spool was closed (the device is stopping): a clip still being written stays as it was. */
export class SpoolClosedError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpoolClosedError";
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS clips (
  id TEXT PRIMARY KEY, session_id TEXT NOT NULL, camera_id TEXT NOT NULL, device_id TEXT NOT NULL,
  part INTEGER NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL, bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, fps INTEGER NOT NULL,
  frames INTEGER NOT NULL, start_ts REAL NOT NULL, end_ts REAL NOT NULL, created_at INTEGER NOT NULL,
  uploaded_at INTEGER, reason TEXT, upload_nuid TEXT, upload_chunk INTEGER);
CREATE INDEX IF NOT EXISTS clips_created ON clips (created_at);
CREATE TABLE IF NOT EXISTS settled (session_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
`;

function isDiskFull(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === "ENOSPC" || /No space left|os error 28/i.test(err?.message ?? "");
}

/** The clip spool. */
export class ClipSpool implements ClipSink, Disposable {
  readonly #db: DatabaseSync;
  #closed = false;
  readonly #o: ClipSpoolOptions;
  /** Bytes reserved by clips being written, by clip id. */
  readonly #writing = new Map<string, number>();

  private constructor(db: DatabaseSync, options: ClipSpoolOptions) {
    this.#db = db;
    this.#o = options;
  }

  /** Opens (or creates) the spool in `dir`; recovers clips a crash left half-written. */
  static open(options: ClipSpoolOptions): ClipSpool {
    if (!Number.isSafeInteger(options.quotaBytes) || options.quotaBytes < 1 << 20) {
      throw new RangeError(`Cannot open a clip spool with a quota of ${options.quotaBytes} B`);
    }
    Deno.mkdirSync(options.dir, { recursive: true });
    const db = new DatabaseSync(`${options.dir}/spool.db`);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    db.exec(SCHEMA);
    const spool = new ClipSpool(db, options);
    spool.#recover();
    return spool;
  }

  /** Bytes of clips on disk (and reserved by clips being written). */
  usage(): number {
    const row = this.#db.prepare("SELECT COALESCE(SUM(bytes), 0) AS n FROM clips")
      .get() as unknown as {
        n: number;
      };
    return row.n;
  }

  /** Every clip, oldest first. */
  list(): SpooledClip[] {
    return (this.#db.prepare("SELECT * FROM clips ORDER BY created_at, id")
      .all() as unknown as Row[]).map(
        toClip,
      );
  }

  /** Finished clips not yet uploaded, oldest first. */
  pending(): SpooledClip[] {
    return (this.#db.prepare(
      "SELECT * FROM clips WHERE status != 'recording' AND uploaded_at IS NULL ORDER BY created_at, id",
    ).all() as unknown as Row[]).map(toClip);
  }

  /** Sessions with clips whose payment is not known to be settled. */
  unsettledSessions(): string[] {
    return (this.#db.prepare(
      "SELECT DISTINCT session_id FROM clips WHERE session_id NOT IN (SELECT session_id FROM settled)",
    ).all() as unknown as Array<{ session_id: string }>).map((r) => r.session_id);
  }

  /** The session's payment is settled: its clips may be evicted (oldest first) when room is needed. */
  markSettled(sessionId: string): void {
    this.#db.prepare("INSERT OR IGNORE INTO settled (session_id, at) VALUES (?, ?)").run(
      sessionId,
      this.#now(),
    );
  }

  /** The session is disputed again: its clips are kept. */
  markUnsettled(sessionId: string): void {
    this.#db.prepare("DELETE FROM settled WHERE session_id = ?").run(sessionId);
  }

  /** Where an interrupted upload of the clip left off: its chunk subject's id and chunk size. */
  uploadState(id: string): { nuid: string; chunkBytes: number } | undefined {
    const row = this.#db.prepare("SELECT upload_nuid, upload_chunk FROM clips WHERE id = ?").get(
      id,
    ) as unknown as { upload_nuid: string | null; upload_chunk: number | null } | undefined;
    if (!row?.upload_nuid || !row.upload_chunk) return undefined;
    return { nuid: row.upload_nuid, chunkBytes: row.upload_chunk };
  }

  /** Records (or with `undefined` forgets) the upload in progress of a clip. */
  setUploadState(id: string, state: { nuid: string; chunkBytes: number } | undefined): void {
    this.#db.prepare("UPDATE clips SET upload_nuid = ?, upload_chunk = ? WHERE id = ?").run(
      state?.nuid ?? null,
      state?.chunkBytes ?? null,
      id,
    );
  }

  /** The clip is in the cloud, verified. */
  markUploaded(id: string): void {
    this.#db.prepare("UPDATE clips SET uploaded_at = ? WHERE id = ?").run(this.#now(), id);
  }

  /** Starts storing a clip (the recorder's sink). */
  async create(info: ClipInfo): Promise<ClipWriter> {
    this.#open("start a clip");
    const id = `${info.sessionId}.${info.cameraId}.${info.part}`;
    const path = `${this.#o.dir}/${id}.mp4`;
    this.#db.prepare(
      `INSERT OR REPLACE INTO clips (id, session_id, camera_id, device_id, part, path, status, bytes,
        sha256, width, height, fps, frames, start_ts, end_ts, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'recording', 0, '', ?, ?, ?, 0, ?, ?, ?)`,
    ).run(
      id,
      info.sessionId,
      info.cameraId,
      info.deviceId,
      info.part,
      path,
      info.width,
      info.height,
      info.fps,
      info.startTs,
      info.startTs,
      this.#now(),
    );
    let file: Deno.FsFile;
    try {
      file = await Deno.open(`${path}.part`, { write: true, create: true, truncate: true });
    } catch (cause) {
      this.#drop(id, path);
      throw this.#full(info, `cannot create ${path}.part: ${(cause as Error).message}`, cause);
    }
    const hash = createHash("sha256");
    let bytes = 0;
    let closed = false;
    const close = () => {
      if (!closed) file.close();
      closed = true;
    };
    return {
      write: async (chunk) => {
        this.#open(`write ${path}`);
        this.#makeRoom(info, chunk.length);
        try {
          await writeAll(file, chunk);
        } catch (cause) {
          if (!isDiskFull(cause)) throw cause;
          // The disk is fuller than the quota thought: evict what may go and try once more.
          this.#evict(chunk.length * 64);
          try {
            await writeAll(file, chunk);
          } catch (again) {
            throw this.#full(info, `the disk is full writing ${path}`, again);
          }
        }
        hash.update(chunk);
        bytes += chunk.length;
        this.#db.prepare("UPDATE clips SET bytes = ? WHERE id = ?").run(bytes, id);
      },
      finish: async (summary: ClipSummary) => {
        await file.sync().catch((e) =>
          // The bytes are written; only their survival of a power cut is in doubt.
          this.#o.log?.("warn", "cannot sync a clip to disk", { path, error: String(e) })
        );
        close();
        // Closed meanwhile (a stop that gave up waiting): the `.part` file and its row stay, and
        // the next start recovers the clip as broken.
        this.#open(`finish ${path}`);
        await Deno.rename(`${path}.part`, path);
        this.#db.prepare(
          `UPDATE clips SET status = ?, bytes = ?, sha256 = ?, frames = ?, start_ts = ?, end_ts = ?,
            reason = ? WHERE id = ?`,
        ).run(
          summary.status,
          bytes,
          hash.digest("hex"),
          summary.frames,
          summary.startTs,
          summary.endTs,
          summary.reason ?? null,
          id,
        );
      },
      discard: async () => {
        close();
        this.#open(`discard ${path}`);
        await Deno.remove(`${path}.part`).catch((e) => {
          if (e instanceof Deno.errors.NotFound) return; // nothing was written
          this.#o.log?.("warn", "cannot remove a discarded clip", { path, error: String(e) });
        });
        this.#drop(id, path);
      },
    };
  }

  /** Closes the index; clips still being written are left for the next start to recover. */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Throws {@link SpoolClosedError} once the spool is closed. */
  #open(what: string): void {
    if (this.#closed) throw new SpoolClosedError(`Cannot ${what}: the clip spool is closed`);
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** Makes room for `bytes` more under the quota, or throws {@link SpoolFullError}. */
  #makeRoom(info: ClipInfo, bytes: number): void {
    const over = this.usage() + bytes - this.#o.quotaBytes;
    if (over <= 0) return;
    if (this.#evict(over) >= over) return;
    throw this.#full(
      info,
      `the spool's quota of ${this.#o.quotaBytes} B is taken by clips of unsettled sessions`,
    );
  }

  /** Evicts the oldest clips of settled sessions until `bytes` are freed; returns bytes freed. */
  #evict(bytes: number): number {
    const victims = this.#db.prepare(
      `SELECT id, path, bytes FROM clips WHERE status != 'recording'
         AND session_id IN (SELECT session_id FROM settled) ORDER BY created_at, id`,
    ).all() as unknown as Array<{ id: string; path: string; bytes: number }>;
    let freed = 0;
    for (const v of victims) {
      if (freed >= bytes) break;
      try {
        Deno.removeSync(v.path);
      } catch (e) {
        // Gone already: its row goes. One that cannot be removed stays, and frees nothing.
        if (!(e instanceof Deno.errors.NotFound)) {
          this.#o.log?.("warn", "cannot evict a clip", { path: v.path, error: String(e) });
          continue;
        }
      }
      this.#db.prepare("DELETE FROM clips WHERE id = ?").run(v.id);
      freed += v.bytes;
    }
    return freed;
  }

  #full(info: ClipInfo, reason: string, cause?: unknown): SpoolFullError {
    this.#o.onAlert?.({
      kind: "spool_full",
      reason,
      sessionId: info.sessionId,
      cameraId: info.cameraId,
    });
    return new SpoolFullError(
      `Cannot store the clip of session "${info.sessionId}" camera "${info.cameraId}": ${reason}`,
      { cause },
    );
  }

  #drop(id: string, path: string): void {
    this.#db.prepare("DELETE FROM clips WHERE id = ? AND path = ?").run(id, path);
  }

  /** Clips a crash left half-written are kept as broken clips (fragmented MP4 plays). */
  #recover(): void {
    const rows = this.#db.prepare("SELECT * FROM clips WHERE status = 'recording'")
      .all() as unknown as Row[];
    for (const r of rows) {
      let data: Uint8Array;
      try {
        data = Deno.readFileSync(`${r.path}.part`);
      } catch (e) {
        // The crash came before the file was made (NotFound): the row goes. A file that cannot
        // be read goes from the index too, said in the log (it stays on disk).
        if (!(e instanceof Deno.errors.NotFound)) {
          this.#o.log?.("warn", "cannot recover a clip; it is dropped", {
            path: `${r.path}.part`,
            error: String(e),
          });
        }
        this.#drop(r.id, r.path);
        continue;
      }
      if (data.length === 0) {
        Deno.removeSync(`${r.path}.part`);
        this.#drop(r.id, r.path);
        continue;
      }
      Deno.renameSync(`${r.path}.part`, r.path);
      const sha = createHash("sha256").update(data).digest("hex");
      const frames = fmp4SampleCount(data);
      if (frames === 0) {
        // Only the header was written: nothing to see.
        Deno.removeSync(r.path);
        this.#drop(r.id, r.path);
        continue;
      }
      this.#db.prepare(
        `UPDATE clips SET status = 'broken', bytes = ?, sha256 = ?, frames = ?, end_ts = ?,
          reason = ? WHERE id = ?`,
      ).run(
        data.length,
        sha,
        frames,
        r.start_ts + (frames - 1) * 1000 / r.fps,
        "the agent stopped while recording this clip",
        r.id,
      );
    }
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}

interface Row {
  id: string;
  session_id: string;
  camera_id: string;
  device_id: string;
  part: number;
  path: string;
  status: SpooledClip["status"];
  bytes: number;
  sha256: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  start_ts: number;
  end_ts: number;
  uploaded_at: number | null;
  reason: string | null;
}

function toClip(r: Row): SpooledClip {
  return {
    id: r.id,
    sessionId: r.session_id,
    cameraId: r.camera_id,
    deviceId: r.device_id,
    part: r.part,
    path: r.path,
    status: r.status,
    bytes: r.bytes,
    sha256: r.sha256,
    width: r.width,
    height: r.height,
    fps: r.fps,
    frames: r.frames,
    startTs: r.start_ts,
    endTs: r.end_ts,
    uploadedAt: r.uploaded_at,
    reason: r.reason,
  };
}
