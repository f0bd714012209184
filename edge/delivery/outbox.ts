/**
 * Store-and-forward outbox: every event that must not be lost is written durably on the device
 * (SQLite in WAL mode, one fsync per event) before the pipeline moves on, published to
 * JetStream with its message id (the stream drops a repeat), and removed only after the server
 * acknowledged it. Delivery is strictly in order, one event at a time, so that a device offline
 * for hours delivers everything in order, exactly once in the stream (within the stream's
 * duplicate window, 2 hours for EVENTS). The outbox has a size bound and raises an alert well
 * before it.
 *
 * @example
 * ```ts
 * import { Outbox } from "./outbox.ts";
 *
 * using outbox = new Outbox("/var/lib/vendstream/outbox.db", { maxBytes: 64 << 20 });
 * outbox.append({ id: "0193...", subject: "vs.local.dev.m001-a.evt.door_opened", data: new Uint8Array() });
 * ```
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** An event waiting in the outbox. */
export interface OutboxEntry {
  /** Message id: the JetStream de-duplication id. */
  readonly id: string;
  /** Subject to publish on. */
  readonly subject: string;
  /** Encoded message. */
  readonly data: Uint8Array;
}

/** Publishes one event and resolves once the server acknowledged it. */
export interface AckPublisher {
  /** Publishes `data` on `subject` with message id `id`; rejects when not acknowledged. */
  publish(subject: string, data: Uint8Array, id: string): Promise<void>;
}

/** How full the outbox is. */
export interface OutboxStats {
  /** Events waiting. */
  readonly depth: number;
  /** Bytes waiting. */
  readonly bytes: number;
  /** Size bound in bytes. */
  readonly capacityBytes: number;
}

/** The outbox is full: the event was not stored. */
export class OutboxFullError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "OutboxFullError";
  }
}

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /** Size bound in bytes. Default 256 MiB. */
  readonly maxBytes?: number;
  /** Share of the bound at which `onAlert` fires. Default 0.8. */
  readonly alertRatio?: number;
  /** Called once when the outbox crosses the alert ratio (and again after it fell below). */
  readonly onAlert?: (stats: OutboxStats) => void;
  /** Test hooks for fault injection: called at points of the delivery. */
  readonly hooks?: {
    afterAppend?: (e: OutboxEntry) => void;
    afterPublish?: (e: OutboxEntry) => void;
  };
}

/** A durable, ordered, bounded queue of events awaiting acknowledgement. */
export class Outbox implements Disposable {
  readonly #db: DatabaseSync;
  readonly #maxBytes: number;
  readonly #alertAt: number;
  readonly #options: OutboxOptions;
  #bytes: number;
  #depth: number;
  #alerted = false;
  #wake: (() => void) | undefined;

  /** Opens (or creates) the outbox database at `path`. */
  constructor(path: string, options: OutboxOptions = {}) {
    this.#options = options;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#alertAt = this.#maxBytes * (options.alertRatio ?? 0.8);
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        data BLOB NOT NULL,
        created INTEGER NOT NULL
      );
    `);
    const row = this.#db.prepare(
      "SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(data)), 0) AS b FROM outbox",
    ).get() as {
      n: number;
      b: number;
    };
    this.#depth = Number(row.n);
    this.#bytes = Number(row.b);
  }

  /** The database, for other durable device state (the command journal shares it). */
  get database(): DatabaseSync {
    return this.#db;
  }

  /** How full the outbox is now. */
  stats(): OutboxStats {
    return { depth: this.#depth, bytes: this.#bytes, capacityBytes: this.#maxBytes };
  }

  /**
   * Stores an event durably (fsync) and returns once it is on disk. A repeated id is ignored
   * (the event is already stored). Throws {@link OutboxFullError} when the bound would be passed.
   */
  append(entry: OutboxEntry): void {
    if (typeof entry.id !== "string" || entry.id === "") {
      throw new TypeError("Outbox entry needs an id");
    }
    if (!(entry.data instanceof Uint8Array)) {
      throw new TypeError(`Outbox entry ${entry.id} needs its data as bytes`);
    }
    if (this.#bytes + entry.data.length > this.#maxBytes) {
      this.#checkAlert(true);
      throw new OutboxFullError(
        `Cannot store event ${entry.id}: the outbox holds ${this.#bytes} of ${this.#maxBytes} bytes`,
      );
    }
    const res = this.#db.prepare(
      "INSERT OR IGNORE INTO outbox (id, subject, data, created) VALUES (?, ?, ?, ?)",
    )
      .run(entry.id, entry.subject, entry.data, Date.now());
    if (Number(res.changes) > 0) {
      this.#depth++;
      this.#bytes += entry.data.length;
    }
    this.#checkAlert();
    this.#options.hooks?.afterAppend?.(entry);
    this.#wake?.();
  }

  #checkAlert(force = false): void {
    const over = this.#bytes >= this.#alertAt;
    if ((over || force) && !this.#alerted) {
      this.#alerted = true;
      this.#options.onAlert?.(this.stats());
    } else if (!over && this.#alerted) {
      this.#alerted = false;
    }
  }

  /** The oldest waiting events, in order. */
  peek(limit = 100, options: { skipPrefixes?: readonly string[] } = {}): OutboxEntry[] {
    const skip = options.skipPrefixes ?? [];
    const where = skip.length
      ? `WHERE ${skip.map(() => "subject NOT LIKE ? ESCAPE '\\'").join(" AND ")}`
      : "";
    const like = skip.map((p) => `${p.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const rows = this.#db.prepare(
      `SELECT id, subject, data FROM outbox ${where} ORDER BY seq LIMIT ?`,
    ).all(...like, limit) as unknown as Array<
      { id: string; subject: string; data: Uint8Array }
    >;
    return rows.map((r) => ({ id: r.id, subject: r.subject, data: new Uint8Array(r.data) }));
  }

  /** Removes acknowledged events, in one transaction (a crash before it only causes a re-send, which the stream drops). */
  remove(ids: readonly string[]): void {
    if (ids.length === 0) return;
    const size = this.#db.prepare("SELECT LENGTH(data) AS b FROM outbox WHERE id = ?");
    const del = this.#db.prepare("DELETE FROM outbox WHERE id = ?");
    // The counters change only once the deletes are committed: a rolled-back batch (a busy
    // database) leaves them as the table is.
    let rows = 0;
    let bytes = 0;
    this.#db.exec("BEGIN");
    try {
      for (const id of ids) {
        const row = size.get(id) as { b: number } | undefined;
        if (!row) continue;
        if (Number(del.run(id).changes) === 0) continue;
        rows++;
        bytes += Number(row.b);
      }
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
    this.#depth -= rows;
    this.#bytes -= bytes;
    this.#checkAlert();
  }

  /**
   * Delivers events in order through `publisher` until the signal aborts: each is removed only
   * after its acknowledgement; a failed publish is retried (with a growing pause) before any
   * later event goes out.
   */
  async deliver(
    publisher: AckPublisher,
    options: {
      signal?: AbortSignal;
      retryMs?: number;
      /**
       * The lane of a subject: a prefix of it (e.g. `vs.eu-west.`, its region). Order is kept
       * within a lane, and a lane whose destination does not acknowledge waits without holding
       * up the others. Default: one lane.
       */
      laneOf?: (subject: string) => string;
    } = {},
  ): Promise<void> {
    const signal = options.signal;
    const laneOf = options.laneOf ?? (() => "");
    let pause = options.retryMs ?? 250;
    /** Lanes that failed, and when to try them again. */
    const waiting = new Map<string, number>();
    while (!signal?.aborted) {
      const now = Date.now();
      for (const [lane, at] of waiting) if (at <= now) waiting.delete(lane);
      const blocked = [...waiting.keys()];
      const batch = blocked.includes("") ? [] : this.peek(100, { skipPrefixes: blocked });
      if (batch.length === 0 && waiting.size > 0) {
        // Only lanes that wait: until the first of them may be tried again (or a new event).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.max(10, Math.min(...waiting.values()) - now));
          const onAbort = () => done();
          function done() {
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
            resolve();
          }
          this.#wake = done;
          signal?.addEventListener("abort", onAbort, { once: true });
        });
        this.#wake = undefined;
        continue;
      }
      if (batch.length === 0) {
        await new Promise<void>((resolve) => {
          const onAbort = () => resolve();
          this.#wake = () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          };
          signal?.addEventListener("abort", onAbort, { once: true });
        });
        this.#wake = undefined;
        continue;
      }
      const acked: string[] = [];
      try {
        const failed = new Set<string>();
        for (const entry of batch) {
          if (signal?.aborted) return;
          const lane = laneOf(entry.subject);
          if (failed.has(lane)) continue; // keep the lane's order: its oldest goes first
          try {
            await publisher.publish(entry.subject, entry.data, entry.id);
          } catch {
            // This lane waits (doubling, at most 5 s); the others go on.
            failed.add(lane);
            waiting.set(lane, Date.now() + pause);
            pause = Math.min(pause * 2, 5000);
            continue;
          }
          if (failed.size === 0) pause = options.retryMs ?? 250;
          this.#options.hooks?.afterPublish?.(entry);
          acked.push(entry.id);
        }
      } finally {
        this.remove(acked);
      }
    }
  }

  /** Closes the database. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Same as {@link Outbox.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
