/**
 * Structured JSON logs, one object per line on stderr, so stdout stays free for the lines
 * scripts read (`api: URL`).
 *
 * @module
 */

/** Log levels, in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Writes structured log lines. */
export interface Logger {
  /** Logs `msg` with `fields` at `level`. */
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

const encoder = new TextEncoder();

/** A logger that writes JSON lines to stderr, tagged with `service`. */
export function jsonLogger(service: string): Logger {
  return {
    log(level, msg, fields = {}) {
      const line = JSON.stringify({ ts: new Date().toISOString(), level, service, msg, ...fields });
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    },
  };
}
