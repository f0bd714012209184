/**
 * The agent's log: structured lines to a sink (JSON lines on stderr by default), the last of them
 * kept in a ring for the `collect_logs` command; and the log sinks the agent's parts are given.
 *
 * @module
 */

/** A log level of the agent. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Writes a structured log line (what the agent's parts are given instead of the agent). */
export type AgentLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/**
 * Logs a failure that must not stop the agent, counted in the errors of metrics stage `stage`
 * (which telemetry carries).
 */
export type FailureLog = (
  stage: string,
  msg: string,
  error: unknown,
  fields?: Record<string, unknown>,
  level?: "warn" | "error",
) => void;

/** Log lines kept for the `collect_logs` command. */
const LOG_RING = 2000;

/** Options of {@link LogRing}. */
export interface LogRingOptions {
  /** The device each line names. */
  readonly deviceId: string;
  /** Log sink. Default: JSON lines on stderr. */
  readonly sink?: ((line: Record<string, unknown>) => void) | undefined;
}

/** The agent's log lines: written to the sink, the last `LOG_RING` (2000) of them kept. */
export class LogRing {
  readonly #lines: string[] = [];
  readonly #options: LogRingOptions;

  /** A ring that is empty. */
  constructor(options: LogRingOptions) {
    this.#options = options;
  }

  /** Writes a structured log line (kept for `collect_logs`). */
  write(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    const line = {
      ts: new Date().toISOString(),
      level,
      device: this.#options.deviceId,
      msg,
      ...fields,
    };
    const text = JSON.stringify(line);
    this.#lines.push(text);
    if (this.#lines.length > LOG_RING) this.#lines.shift();
    if (this.#options.sink) this.#options.sink(line);
    else console.error(text);
  }

  /** The last `lines` lines kept, of those written at or after `since` (epoch ms; null: all). */
  tail(since: number | null, lines: number): string[] {
    return this.#lines.filter((l) => since === null || Date.parse(JSON.parse(l).ts) >= since)
      .slice(-lines);
  }
}
