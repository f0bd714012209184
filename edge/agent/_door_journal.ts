/**
 * The journal of door sessions: table `door_sessions` in the outbox's database, one row per
 * session (opened, closed, completed, and the region its events go to), so that a session that a
 * crash or a power loss interrupted is finished at the next start.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** A door session the journal has not seen completed. */
export interface UnfinishedSession {
  /** Session id. */
  readonly id: string;
  /** When the door opened (device clock, ms). */
  readonly opened_at: number;
  /** When the door closed, if it did. */
  readonly closed_at: number | null;
  /** The region its events go to (null in outboxes from before regions). */
  readonly region: string | null;
}

/** The door sessions' table in the outbox's database. */
export class DoorJournal {
  readonly #db: DatabaseSync;

  /** The journal in `db` (its table is made by {@link DoorJournal.unfinished}). */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Makes the table if there is none (and adds what older ones lack); the unfinished sessions. */
  unfinished(): UnfinishedSession[] {
    const db = this.#db;
    db.exec(`CREATE TABLE IF NOT EXISTS door_sessions (
      id TEXT PRIMARY KEY, opened_at INTEGER NOT NULL, closed_at INTEGER, completed INTEGER NOT NULL DEFAULT 0)`);
    const columns = db.prepare("PRAGMA table_info(door_sessions)").all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === "region")) {
      db.exec("ALTER TABLE door_sessions ADD COLUMN region TEXT"); // outboxes from before regions
    }
    return db.prepare(
      "SELECT id, opened_at, closed_at, region FROM door_sessions WHERE completed = 0 ORDER BY opened_at",
    ).all() as unknown as UnfinishedSession[];
  }

  /** Records that session `id` opened at `at`, its events going to `region` (once). */
  opened(id: string, at: number, region: string): void {
    this.#db.prepare(
      "INSERT OR IGNORE INTO door_sessions (id, opened_at, region) VALUES (?, ?, ?)",
    ).run(id, at, region);
  }

  /** Records that session `id` closed at `at`. */
  closed(id: string, at: number): void {
    this.#db.prepare("UPDATE door_sessions SET closed_at = ? WHERE id = ?").run(at, id);
  }

  /** Records that session `id` is completed (its outcome is in the outbox). */
  completed(id: string): void {
    this.#db.prepare("UPDATE door_sessions SET completed = 1 WHERE id = ?").run(id);
  }
}
